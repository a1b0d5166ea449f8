"""Parsing of .psam files."""

from __future__ import annotations

from pathlib import Path

import pytest

from vatti.pipelines.pgs.targets.errors import TargetFormatError
from vatti.pipelines.pgs.targets.plink2 import parse_psam

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "fids", "iids"),
    [
        ("#FID\tIID\tSEX\nf1\ti1\tNA\nf2\ti2\t1\n", ["f1", "f2"], ["i1", "i2"]),
        ("#IID\tSEX\ni1\t2\ni2\t1\n", ["i1", "i2"], ["i1", "i2"]),
        ("##comment\n#IID\ni1\n", ["i1"], ["i1"]),
        ("f1 i1 0 0 0 -9\n", ["f1"], ["i1"]),
    ],
)
def test_psam(text: str, fids: list[str], iids: list[str]) -> None:
    frame = parse_psam(text.encode(), Path("x.psam"))
    assert frame["FID"].to_list() == fids
    assert frame["IID"].to_list() == iids


def test_psam_parents_tell_founders() -> None:
    text = b"#FID\tIID\tPAT\tMAT\tSEX\nf\tdad\t0\t0\t1\nf\tmum\t0\t0\t2\nf\tkid\tdad\tmum\t1\n"
    assert parse_psam(text, Path("x.psam"))["founder"].to_list() == [True, True, False]
    half = b"#IID\tMAT\ni1\t0\ni2\tm\n"  # one parent column is enough to tell
    assert parse_psam(half, Path("x.psam"))["founder"].to_list() == [True, False]
    no_pedigree = b"#IID\tSEX\ni1\t1\n"
    assert parse_psam(no_pedigree, Path("x.psam"))["founder"].to_list() == [True]


def test_psam_without_iid_is_refused() -> None:
    with pytest.raises(TargetFormatError, match="IID"):
        parse_psam(b"#FID\tSEX\nf\t1\n", Path("x.psam"))
