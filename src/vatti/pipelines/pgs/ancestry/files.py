"""The files of the ancestry analysis, in the PGS Catalog Calculator's formats.

In: FRAPOSA's ``.pcs`` (``FID IID PC1 ...``, tab-separated), a reference ``.psam`` with
population labels (``#IID`` or ``#FID IID`` first), plink2's ``.king.cutoff.out.id`` (the
related samples, one IID a line), ``aggregated_scores.txt[.gz]``.

Out: ``<target>_pgs.txt.gz`` (``sampleset FID IID PGS`` then ``SUM`` and the adjusted columns
sorted by name, rows sorted by sampleset, FID, IID within each score),
``<target>_popsimilarity.txt.gz`` (the target's then the reference's samples: PCs,
``Unrelated``, the assignment columns, ``MostSimilarPop``, ``MostSimilarPop_LowConfidence``,
``REFERENCE``, the population label) and ``<target>_info.json.gz`` (the models). Numbers are
written as Python's shortest repr, booleans ``True``/``False``, missing values empty, as
pandas writes them.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from vatti.pipelines.errors import PipelineError


class AncestryInputError(PipelineError):
    """An input of the ancestry analysis cannot be read or does not fit the others."""

    code = "pgs_ancestry_input"
    exit_code = 65  # EX_DATAERR


def _read_tsv(path: Path, what: str) -> pl.DataFrame:
    if not path.is_file():
        raise AncestryInputError(f"{what} {path}: no such file")
    try:
        return pl.read_csv(
            path, separator="\t", infer_schema=False, comment_prefix=None, quote_char=None
        )
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise AncestryInputError(f"{what} {path}: not a tab-separated table ({exc})") from None


def read_pcs(path: Path) -> pl.DataFrame:
    """``FID``, ``IID`` (text) and ``PC1``... (floats) of a ``.pcs`` file, in its order."""
    table = _read_tsv(path, "principal components")
    pcs = [c for c in table.columns if c.startswith("PC")]
    if table.columns[:2] != ["FID", "IID"] or not pcs:
        raise AncestryInputError(
            f"{path}: expected the columns FID IID PC1 ..., not {table.columns}"
        )
    try:
        return table.select("FID", "IID", *[pl.col(c).cast(pl.Float64) for c in pcs])
    except pl.exceptions.PolarsError:
        raise AncestryInputError(f"{path}: a PC value is not a number") from None


def read_population_labels(path: Path, label: str = "SuperPop") -> dict[str, str]:
    """IID -> the ``label`` column of a reference ``.psam``."""
    table = _read_tsv(path, "reference sample file")
    first = table.columns[0]
    if first == "#FID":
        iid = "IID"
    elif first == "#IID":
        iid = "#IID"
    else:
        raise AncestryInputError(f"{path}: not a .psam (the first column is {first!r})")
    if label not in table.columns or iid not in table.columns:
        raise AncestryInputError(
            f"{path}: no {label!r} population label column (columns: {', '.join(table.columns)})"
        )
    return dict(zip(table[iid].to_list(), table[label].to_list(), strict=True))


def read_related(path: Path | None) -> set[str]:
    """The IIDs of a relatedness exclusion list (empty without one)."""
    if path is None:
        return set()
    if not path.is_file():
        raise AncestryInputError(f"relatedness list {path}: no such file")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def read_aggregated_scores(path: Path) -> pl.DataFrame:
    """``sampleset FID IID PGS SUM`` of an ``aggregated_scores.txt[.gz]``."""
    table = _read_tsv(path, "aggregated scores")
    missing = {"sampleset", "FID", "IID", "PGS", "SUM"} - set(table.columns)
    if missing:
        raise AncestryInputError(f"{path}: no column {', '.join(sorted(missing))}")
    return table.select("sampleset", "FID", "IID", "PGS", pl.col("SUM").cast(pl.Float64))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def write_table(table: pl.DataFrame, path: Path) -> Path:
    """``table`` as pandas' ``to_csv(sep="\\t", index=False)`` writes it, gzipped
    reproducibly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out,
    ):
        out.write(("\t".join(table.columns) + "\n").encode())
        for row in table.iter_rows():
            out.write(("\t".join(_cell(v) for v in row) + "\n").encode())
    return path


def write_json(data: dict[str, Any], path: Path) -> Path:
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out,
    ):
        out.write(json.dumps(data, indent=2, default=_plain).encode())
    return path


def _plain(value: object) -> object:
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        return tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def sorted_columns(names: Iterable[str]) -> list[str]:
    """Column names in pandas' pivot order (code points: upper case first).

    >>> sorted_columns(["percentile_MostSimilarPop", "Z_norm1", "SUM"])
    ['SUM', 'Z_norm1', 'percentile_MostSimilarPop']
    """
    return sorted(names)


def pc_names(n: int) -> Sequence[str]:
    return [f"PC{k + 1}" for k in range(n)]
