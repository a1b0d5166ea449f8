"""Reference allele frequencies (a plink2 ``.afreq`` file) for mean imputation.

The PGS Catalog Calculator imputes a missing call from the sampleset's own allele frequency when
the sampleset has at least 50 samples; with fewer, it imputes only when frequencies from a
reference panel are given (plink2 ``--read-freq``). A frequency is looked up by the target
variant's ID with the same REF and ALT alleles, as plink2 does; a matched variant absent from the
file falls back to the sampleset's own frequency, as plink2 computes it for such variants.

Columns read: ``ID``, ``REF``, ``ALT`` (comma-separated when multiallelic) and ``ALT_FREQS``
(one frequency per ALT); ``#CHROM``, ``OBS_CT`` and others are ignored.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from vatti.pipelines.errors import PipelineError
from vatti.pipelines.pgs.inflate import GZIP_ERRORS, gunzip

#: The columns a reference frequency file must have.
AFREQ_COLUMNS = ("ID", "REF", "ALT", "ALT_FREQS")

#: The column of a matched row holding its allele's reference frequency (null: not in the file).
FREQ_COLUMN = "ref_freq"


class ReferenceFreqsError(PipelineError):
    """The reference frequency file cannot be read or holds invalid frequencies."""

    code = "pgs_ref_freqs_invalid"
    exit_code = 65  # EX_DATAERR


def read_afreq(path: Path) -> pl.DataFrame:
    """``id``, ``ref``, ``alt`` and ``alt_freqs`` (a list of floats) of a ``.afreq[.gz|.zst]``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReferenceFreqsError(f"{path}: cannot read ({exc.strerror})") from exc
    if data[:2] == b"\x1f\x8b":
        try:
            data = gunzip(data)
        except GZIP_ERRORS as exc:
            raise ReferenceFreqsError(f"{path}: not a readable gzip file ({exc})") from exc
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        try:
            data = zstandard.ZstdDecompressor().stream_reader(data).read()
        except zstandard.ZstdError as exc:
            raise ReferenceFreqsError(f"{path}: not a readable zstd file ({exc})") from exc
    if data.startswith(b"#"):
        data = data[1:]  # "#CHROM" names the first column
    try:
        table = pl.read_csv(
            data, separator="\t", infer_schema=False, quote_char=None, comment_prefix=None
        )
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise ReferenceFreqsError(f"{path}: not a tab-separated .afreq file ({exc})") from exc
    missing = [c for c in AFREQ_COLUMNS if c not in table.columns]
    if missing:
        raise ReferenceFreqsError(
            f"{path}: lacks the column(s) {', '.join(missing)} of a plink2 .afreq file"
        )
    freqs = table.select(
        pl.col("ID").alias("id"),
        pl.col("REF").alias("ref"),
        pl.col("ALT").alias("alt"),
        pl.col("ALT_FREQS").str.split(",").cast(pl.List(pl.Float64), strict=False),
        pl.col("ALT").str.count_matches(",").alias("_n_alt") + 1,
        pl.col("ALT_FREQS").alias("_text"),
    ).with_row_index("_line", offset=2)
    bad = freqs.filter(
        pl.col("ALT_FREQS").is_null()
        | pl.col("ALT_FREQS").list.eval(pl.element().is_null()).list.any()
        | (pl.col("ALT_FREQS").list.len() != pl.col("_n_alt"))
        | (pl.col("ALT_FREQS").list.min() < 0)
        | (pl.col("ALT_FREQS").list.sum() > 1 + 1e-6)
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise ReferenceFreqsError(
            f"{path}: line {row['_line']}: ALT_FREQS {row['_text']!r} is not one frequency in "
            f"[0, 1] per ALT allele of {row['alt']!r}"
        )
    return freqs.select("id", "ref", "alt", pl.col("ALT_FREQS").alias("alt_freqs")).unique(
        ["id", "ref", "alt"], keep="first", maintain_order=True
    )


def with_reference_freqs(rows: pl.DataFrame, freqs: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (match log rows: ``target_id``, ``target_ref``, ``target_alt``, ``allele_idx``)
    with :data:`FREQ_COLUMN`: the frequency of the scored allele, null when not in ``freqs``.

    ``allele_idx`` 0 is REF (one minus the ALT frequencies), ``k`` the k-th ALT.
    """
    joined = rows.join(
        freqs,
        left_on=[pl.col("target_id").cast(pl.Utf8), pl.col("target_ref"), pl.col("target_alt")],
        right_on=["id", "ref", "alt"],
        how="left",
        maintain_order="left",
    )
    k = pl.col("allele_idx").cast(pl.Int64)
    freq = (
        pl.when(k == 0)
        .then(1.0 - pl.col("alt_freqs").list.sum())
        .otherwise(pl.col("alt_freqs").list.get(k - 1, null_on_oob=True))
    )
    return joined.with_columns(freq.clip(0.0, 1.0).alias(FREQ_COLUMN)).drop("alt_freqs")
