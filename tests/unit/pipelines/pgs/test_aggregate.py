"""The aggregated_scores.txt.gz text format."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from vatti.pipelines.pgs.aggregate import format_rows, write_aggregated_scores
from vatti.pipelines.pgs.streaming import SCORES_SCHEMA

pytestmark = pytest.mark.unit


def _scores(sums: list[float], denoms: list[int]) -> pl.DataFrame:
    n = len(sums)
    return pl.DataFrame(
        {
            "sampleset": ["c"] * n,
            "FID": ["f"] * n,
            "IID": [f"i{k}" for k in range(n)],
            "PGS": ["P"] * n,
            "SUM": sums,
            "DENOM": denoms,
            "AVG": [s / d if d else float("nan") for s, d in zip(sums, denoms, strict=True)],
            "ALLELE_CT": denoms,
        },
        schema=SCORES_SCHEMA,
    )


def test_sums_are_rounded_like_plink2_then_averaged() -> None:
    # 0.545019876 prints as 0.54502 in plink2 (%g, 6 digits); AVG is computed from that
    lines = format_rows(_scores([0.545019876, -1.23456789e-7, 0.0], [1564, 2, 0]))
    assert lines[0] == "sampleset\tFID\tIID\tPGS\tSUM\tDENOM\tAVG"
    assert lines[1] == f"c\tf\ti0\tP\t0.54502\t1564\t{0.54502 / 1564!r}"
    assert lines[2] == f"c\tf\ti1\tP\t-1.23457e-07\t2\t{-1.23457e-07 / 2!r}"
    assert lines[3] == "c\tf\ti2\tP\t0.0\t0\t"


def test_full_precision_keeps_every_digit() -> None:
    lines = format_rows(_scores([0.545019876], [4]), precision=None)
    assert lines[1].split("\t")[4] == "0.545019876"


def test_written_file_is_gzip_and_reproducible(tmp_path: Path) -> None:
    scores = _scores([1.5], [2])
    a = write_aggregated_scores(scores, tmp_path / "a" / "aggregated_scores.txt.gz")
    b = write_aggregated_scores(scores, tmp_path / "b" / "aggregated_scores.txt.gz")
    assert a.read_bytes() == b.read_bytes()
    assert gzip.decompress(a.read_bytes()).decode().splitlines() == format_rows(scores)
