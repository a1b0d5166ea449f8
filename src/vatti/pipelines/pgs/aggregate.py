"""``aggregated_scores.txt.gz`` in the PGS Catalog Calculator's format.

Tab-separated with the header ``sampleset FID IID PGS SUM DENOM AVG``, one row per sample and
score, grouped by sampleset then score. pgsc_calc reads the sums back from plink2's ``.sscore``,
which prints six significant digits, and writes them (and ``AVG = SUM / DENOM`` of those rounded
sums) with Python's shortest float repr; ``precision=6`` reproduces that byte for byte, and
``precision=None`` keeps every digit of our sums.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from vatti.pipelines.pgs.inflate import gzip_fast

HEADER = ("sampleset", "FID", "IID", "PGS", "SUM", "DENOM", "AVG")
PLINK2_DIGITS = 6


def _float(value: float) -> str:
    return "" if math.isnan(value) else repr(value)


def format_rows(scores: pl.DataFrame, *, precision: int | None = PLINK2_DIGITS) -> list[str]:
    """The text lines (header first, no newlines) for ``scores`` as ``score_samplesets`` returns."""
    lines = ["\t".join(HEADER)]
    columns = [scores[name].to_list() for name in HEADER[:6]]
    for sampleset, fid, iid, pgs, total, denom in zip(*columns, strict=True):
        if precision is not None:
            total = float(f"{total:.{precision}g}")
        avg = total / denom if denom else math.nan
        lines.append(
            f"{sampleset}\t{fid}\t{iid}\t{pgs}\t{_float(total)}\t{int(denom)}\t{_float(avg)}"
        )
    return lines


def write_aggregated_scores(
    scores: pl.DataFrame, path: Path, *, precision: int | None = PLINK2_DIGITS
) -> Path:
    """Write ``scores`` to ``path`` (gzip, reproducible: no name or time in the gzip header;
    deflated at once by ISA-L, a tenth of the time of zlib's level 9 line by line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(format_rows(scores, precision=precision)) + "\n"
    path.write_bytes(gzip_fast(text.encode()))
    return path
