"""Parsing of .fam files."""

from __future__ import annotations

from pathlib import Path

import pytest

from vatti.pipelines.pgs.targets.errors import TargetFormatError
from vatti.pipelines.pgs.targets.plink1 import parse_fam

pytestmark = pytest.mark.unit


def test_fam() -> None:
    frame = parse_fam(b"HG1 HG1 0 0 0 -9\nF2\tI2\t0\t0\t1\t1\nF2 K3 I2 0 1 1\n", Path("x.fam"))
    assert frame.rows() == [("HG1", "HG1", True), ("F2", "I2", True), ("F2", "K3", False)]
    with pytest.raises(TargetFormatError):
        parse_fam(b"lonely\n", Path("x.fam"))
