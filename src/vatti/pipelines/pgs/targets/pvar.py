"""Variant lists: PLINK 2 ``.pvar`` and PLINK 1 ``.bim``, plain or zstd-compressed (``.zst``).

Both are read whole with the polars CSV reader (a million variants take well under a second) and
return ``variant_idx``, ``chrom`` (``chr`` stripped), ``pos``, ``id``, ``ref``, ``alt``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from vatti.pipelines.pgs.targets.base import normalise_chrom
from vatti.pipelines.pgs.targets.errors import TargetFormatError

_BIM_COLUMNS = ["chrom", "id", "cm", "pos", "alt", "ref"]


def read_text(path: Path) -> bytes:
    """The bytes of ``path``, decompressed when it ends in ``.zst``."""
    raw = path.read_bytes()
    if path.name.endswith(".zst"):
        import zstandard

        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)) as stream:
            return stream.read()
    return raw


def _header_end(data: bytes) -> int:
    """Offset of the first line that does not start with ``##``."""
    offset = 0
    while data.startswith(b"##", offset):
        newline = data.find(b"\n", offset)
        if newline < 0:
            return len(data)
        offset = newline + 1
    return offset


def _finish(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("variant_idx"),
        normalise_chrom(pl.col("chrom")).alias("chrom"),
        pl.col("pos").cast(pl.Int64),
        pl.col("id"),
        pl.col("ref"),
        pl.col("alt"),
    )


def _read_bim_bytes(data: bytes, source: Path) -> pl.DataFrame:
    if not data.strip():
        return _finish(pl.DataFrame(schema=dict.fromkeys(_BIM_COLUMNS, pl.Utf8)))
    first = data[: data.find(b"\n")] if b"\n" in data else data
    separator = "\t" if b"\t" in first else " "
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            separator=separator,
            has_header=False,
            new_columns=_BIM_COLUMNS,
            schema_overrides=dict.fromkeys(_BIM_COLUMNS, pl.Utf8),
        )
    except pl.exceptions.PolarsError as exc:
        raise TargetFormatError(f"{source} is not a valid .bim file: {exc}") from exc
    if frame.width != len(_BIM_COLUMNS):
        raise TargetFormatError(f"{source} is not a valid .bim file (expected 6 columns)")
    return _finish(frame)


def read_bim(path: Path) -> pl.DataFrame:
    """Parse a PLINK 1 ``.bim`` (``chrom id cm pos A1 A2``; A1 is ALT, A2 is REF)."""
    return _read_bim_bytes(read_text(path), path)


def read_pvar(path: Path) -> pl.DataFrame:
    """Parse a PLINK 2 ``.pvar``; without a ``#CHROM`` header line it is read as a ``.bim``."""
    data = read_text(path)
    body = data[_header_end(data) :]
    if not body.startswith(b"#CHROM"):
        return _read_bim_bytes(body, path)
    try:
        frame = pl.read_csv(
            io.BytesIO(body),
            separator="\t",
            has_header=True,
            infer_schema=False,
            quote_char=None,
        )
    except pl.exceptions.PolarsError as exc:
        raise TargetFormatError(f"{path} is not a valid .pvar file: {exc}") from exc
    needed = {"#CHROM", "POS", "ID", "REF", "ALT"}
    if not needed <= set(frame.columns):
        missing = ", ".join(sorted(needed - set(frame.columns)))
        raise TargetFormatError(f"{path} lacks the .pvar column(s) {missing}")
    frame = frame.rename({"#CHROM": "chrom", "POS": "pos", "ID": "id", "REF": "ref", "ALT": "alt"})
    try:
        return _finish(frame)
    except pl.exceptions.PolarsError as exc:
        raise TargetFormatError(f"{path} has a non-integer POS: {exc}") from exc


def allele_counts(alt: pl.Series) -> pl.Series:
    """Number of alleles (REF + ALTs) of each variant, from its comma-separated ALT."""
    return (alt.str.count_matches(",") + 2).cast(pl.UInt32)


def read_allele_counts(path: Path) -> npt.NDArray[np.uint32]:
    """Alleles per variant of a ``.pvar`` (or ``.bim``), parsing only the ``ALT`` column."""
    data = read_text(path)
    body = data[_header_end(data) :]
    del data
    if not body.startswith(b"#CHROM"):
        return np.full(_read_bim_bytes(body, path).height, 2, dtype=np.uint32)
    try:
        frame = pl.read_csv(
            io.BytesIO(body),
            separator="\t",
            has_header=True,
            columns=["ALT"],
            infer_schema=False,
            quote_char=None,
        )
    except pl.exceptions.PolarsError as exc:
        raise TargetFormatError(f"{path} is not a valid .pvar file: {exc}") from exc
    counts: npt.NDArray[np.uint32] = allele_counts(frame["ALT"]).to_numpy()
    return counts
