"""Match scoring-file variants to target variants, as the PGS Catalog Calculator's matcher does.

The rules follow ``pgscatalog-match`` 0.4.0 (``lib/_match``), recomputed with polars joins:

* candidates share chromosome and position with a target variant (target chromosomes 1-22, X and
  Y only, ``chr`` prefix ignored); multiallelic ALTs are split, so any ALT allele can match;
* each candidate gets the first match type its alleles satisfy, in :data:`MATCH_TYPES` order
  (``refalt``: effect allele = REF, other allele = ALT; ``altref``: the reverse; ``_flip``: the
  score's alleles complemented; ``no_oa_*``: the score has no other allele);
* per scoring-file row the best (lowest) type wins; ties (several target variants with the best
  type) keep the first target variant in file order (``duplicate_best_match``), the others are
  not used; the best match is never replaced by a worse one when it is excluded;
* exclusions of that best match: several rows of one score best-matching the same target
  variant (``duplicate``: all of them, or all but the lowest ``row_nr`` with
  ``keep_first_match``), an ambiguous site (complement of REF = ALT, e.g. A/T, C/G) unless
  ``keep_ambiguous``, a multiallelic site unless ``keep_multiallelic``, a strand flip with
  ``skip_flip``;
* a score passes when its unmatched fraction (rows without a kept match / all its rows) is at
  most ``1 - min_overlap``.

``allele_idx`` is the index of the score's effect allele in the target (0 = REF, k = ALT k), so
counting copies of it is plink2 ``--score`` on the matched effect allele.

One deliberate difference: ambiguity is judged on the allele pair that matched (for a
multiallelic site, REF and the matched ALT, or REF and the first ALT for a REF match), where
pgscatalog-match pairs REF with whichever ALT row came first. It only matters with
``keep_multiallelic``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from vatti.pipelines.pgs.streaming import MATCHED_COLUMNS
from vatti.pipelines.pgs.vocabulary import CHR_PREFIX, MatchType

#: Match type names, best first (their position is the priority; see :class:`MatchType`).
MATCH_TYPES: tuple[str, ...] = tuple(t.value for t in MatchType)

#: Why a best match was excluded; when several apply, the first listed is reported.
EXCLUSION_REASONS: tuple[str, ...] = ("duplicate", "ambiguous", "multiallelic", "strand_flip")

MATCH_STATUSES: tuple[str, ...] = ("matched", "excluded", "unmatched")

#: Target chromosomes considered by the matcher.
CHROMOSOMES: tuple[str, ...] = (*(str(i) for i in range(1, 23)), "X", "Y")

SCORING_COLUMNS: tuple[str, ...] = (
    "accession",
    "row_nr",
    "chr_name",
    "chr_position",
    "effect_allele",
    "other_allele",
    "effect_weight",
    "effect_type",
)

LOG_SCHEMA: dict[str, type[pl.DataType]] = {
    "sampleset": pl.Utf8,
    "accession": pl.Utf8,
    "row_nr": pl.Int64,
    "chr_name": pl.Utf8,
    "chr_position": pl.Int64,
    "effect_allele": pl.Utf8,
    "other_allele": pl.Utf8,
    "effect_weight": pl.Float64,
    "effect_type": pl.Utf8,
    "matched": pl.Boolean,
    "match_status": pl.Utf8,
    "match_type": pl.Utf8,
    "exclusion_reason": pl.Utf8,
    "file_idx": pl.UInt32,
    "variant_idx": pl.UInt32,
    "allele_idx": pl.UInt16,
    "target_id": pl.Utf8,
    "target_ref": pl.Utf8,
    "target_alt": pl.Utf8,
    "matched_effect_allele": pl.Utf8,
    "ambiguous": pl.Boolean,
    "is_multiallelic": pl.Boolean,
    "match_flipped": pl.Boolean,
    "duplicate_best_match": pl.Boolean,
    "duplicate_id": pl.Boolean,
}

MATCHED_OUTPUT: tuple[str, ...] = (
    *MATCHED_COLUMNS,
    "sampleset",
    "row_nr",
    "match_type",
    "id",
    "chrom",
    "pos",
)


@dataclass(frozen=True)
class MatchOptions:
    """Matching parameters (defaults are the PGS Catalog Calculator's)."""

    keep_ambiguous: bool = False
    keep_multiallelic: bool = False
    min_overlap: float = 0.75
    keep_first_match: bool = False
    skip_flip: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_overlap <= 1.0:
            raise ValueError(f"min_overlap must be within [0, 1], got {self.min_overlap}")


@dataclass(frozen=True)
class MatchResult:
    """``matched``: rows to score; ``log``: one row per scoring-file row; ``summary``: per score."""

    matched: pl.DataFrame
    log: pl.DataFrame
    summary: pl.DataFrame


def complement(allele: pl.Expr) -> pl.Expr:
    """Complement (not reverse) an allele made only of A, C, G, T; leave anything else as is."""
    return (
        pl.when(allele.str.contains("^[ACGT]+$"))
        .then(allele.str.replace_many(["A", "C", "G", "T"], ["T", "G", "C", "A"]))
        .otherwise(allele)
    )


def _prepare_scoring(scoring: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in SCORING_COLUMNS if c not in scoring.columns]
    if missing:
        raise ValueError(f"scoring variants lack the column(s) {', '.join(missing)}")
    return scoring.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_sid"),
        _text(scoring, "accession"),
        pl.col("row_nr").cast(pl.Int64),
        _text(scoring, "chr_name"),
        pl.col("chr_position").cast(pl.Int64),
        _text(scoring, "effect_allele"),
        _text(scoring, "other_allele"),
        pl.col("effect_weight").cast(pl.Float64),
        _text(scoring, "effect_type"),
    )


def _text(frame: pl.DataFrame, name: str) -> pl.Expr:
    """A text column: kept when categorical (compact; the log casts it), else as Utf8."""
    if isinstance(frame.schema[name], pl.Categorical):
        return pl.col(name)
    return pl.col(name).cast(pl.Utf8)


def compact_scoring(frame: pl.DataFrame) -> pl.DataFrame:
    """Scoring variants for :func:`match_log_chunks` in less memory: only the
    :data:`SCORING_COLUMNS`, with the repetitive text (accession, chromosome, alleles, effect
    type) categorical: 4 bytes a row each instead of a 16-byte string view."""
    return frame.select(SCORING_COLUMNS).with_columns(
        pl.col("accession", "chr_name", "effect_allele", "other_allele", "effect_type").cast(
            pl.Categorical
        ),
        pl.col("row_nr").cast(pl.UInt32),
    )


def _with_flips(scoring: pl.DataFrame) -> pl.DataFrame:
    """One region's scoring rows with text alleles (joinable) and their complements."""
    scoring = scoring.with_columns(
        pl.col("chr_name", "effect_allele", "other_allele").cast(pl.Utf8)
    )
    return scoring.with_columns(
        complement(pl.col("effect_allele")).alias("_ea_flip"),
        complement(pl.col("other_allele")).alias("_oa_flip"),
    )


def _prepare_target(target: pl.DataFrame) -> pl.DataFrame:
    """One row per (variant, ALT allele): ``_k`` is the ALT's 1-based index, ``_tid`` the row of
    ``target`` (its ``id`` and ``alt`` are looked up there for the log, see :func:`_log`)."""
    return (
        target.select(
            pl.col("_tid")
            if "_tid" in target.columns
            else pl.int_range(pl.len(), dtype=pl.UInt32).alias("_tid"),
            pl.col("file_idx").cast(pl.UInt32),
            pl.col("variant_idx").cast(pl.UInt32),
            pl.col("chrom").cast(pl.Utf8).str.replace(CHR_PREFIX, "").alias("chrom"),
            pl.col("pos").cast(pl.Int64),
            pl.col("ref").cast(pl.Utf8),
            pl.col("alt").cast(pl.Utf8).str.split(",").alias("_alts"),
        )
        .filter(pl.col("chrom").is_in(CHROMOSOMES))
        .with_columns(
            (pl.col("_alts").list.len() > 1).fill_null(False).alias("is_multiallelic"),
            pl.int_ranges(1, pl.col("_alts").list.len() + 1, dtype=pl.UInt16).alias("_k"),
        )
        .explode("_alts", "_k")
        .rename({"_alts": "_alt"})
    )


def _match_priority() -> pl.Expr:
    """The first match type a candidate's alleles satisfy (its index in MATCH_TYPES), or null."""
    ea, oa = pl.col("effect_allele"), pl.col("other_allele")
    eaf, oaf = pl.col("_ea_flip"), pl.col("_oa_flip")
    ref, alt = pl.col("ref"), pl.col("_alt")

    def rule(kind: MatchType) -> pl.Expr:
        effect, other = (eaf, oaf) if kind.flipped else (ea, oa)
        effect_at, other_at = (ref, alt) if kind.effect_is_ref else (alt, ref)
        if not kind.has_other_allele:
            return oa.is_null() & (effect == effect_at)
        return oa.is_not_null() & (effect == effect_at) & (other == other_at)

    expr: pl.Expr = pl.lit(None, pl.UInt8)
    for kind in reversed(MatchType):
        expr = pl.when(rule(kind)).then(pl.lit(kind.priority, pl.UInt8)).otherwise(expr)
    return expr


def _priorities(keep: Callable[[MatchType], bool]) -> list[int]:
    """The priorities of the match types ``keep`` holds for."""
    return [kind.priority for kind in MatchType if keep(kind)]


def _candidates(scoring: pl.DataFrame, target: pl.DataFrame) -> pl.DataFrame:
    """Every (scoring row, target variant) pair whose alleles match, with its best type there."""
    ref_based = pl.col("_priority").is_in(_priorities(lambda kind: kind.effect_is_ref))
    return (
        scoring.join(
            target,
            left_on=["chr_name", "chr_position"],
            right_on=["chrom", "pos"],
            how="inner",
            coalesce=False,
        )
        .with_columns(_match_priority().alias("_priority"))
        .filter(pl.col("_priority").is_not_null())
        # a REF match holds for every ALT of the site: keep one (the first ALT)
        .sort("_sid", "_priority", "file_idx", "variant_idx", "_k")
        .unique(["_sid", "file_idx", "variant_idx", "_priority"], keep="first", maintain_order=True)
        .with_columns(
            pl.col("_priority")
            .replace_strict(list(range(len(MATCH_TYPES))), list(MATCH_TYPES), return_dtype=pl.Utf8)
            .alias("match_type"),
            pl.when(ref_based)
            .then(pl.lit(0, pl.UInt16))
            .otherwise(pl.col("_k"))
            .alias("allele_idx"),
            pl.when(ref_based)
            .then(pl.col("ref"))
            .otherwise(pl.col("_alt"))
            .alias("matched_effect_allele"),
            (complement(pl.col("ref")) == pl.col("_alt")).fill_null(False).alias("ambiguous"),
            pl.col("_priority")
            .is_in(_priorities(lambda kind: kind.flipped))
            .alias("match_flipped"),
        )
    )


def _best_matches(candidates: pl.DataFrame, options: MatchOptions) -> pl.DataFrame:
    """At most one row per scoring row: its best candidate, labelled with any exclusion."""
    labelled = candidates.with_columns(
        (pl.col("_priority") == pl.col("_priority").min().over("_sid")).alias("_best_type")
    ).with_columns(
        ((pl.col("_best_type").sum().over("_sid") > 1) & pl.col("_best_type")).alias(
            "duplicate_best_match"
        )
    )
    # candidates are sorted by (_sid, priority, file_idx, variant_idx): the first is the best
    best = labelled.filter(pl.col("_sid").is_first_distinct())
    same_variant = ["accession", "file_idx", "variant_idx"]
    best = best.with_columns(
        (pl.len().over([*same_variant, "duplicate_best_match"]) > 1).alias("duplicate_id")
    )
    if options.keep_first_match:
        first_row = pl.col("row_nr").min().over([*same_variant, "duplicate_id"])
        drop_duplicate = pl.col("duplicate_id") & (pl.col("row_nr") != first_row)
    else:
        drop_duplicate = pl.col("duplicate_id")
    reason = (
        pl.when(drop_duplicate)
        .then(pl.lit("duplicate"))
        .when(pl.col("ambiguous") & (not options.keep_ambiguous))
        .then(pl.lit("ambiguous"))
        .when(pl.col("is_multiallelic") & (not options.keep_multiallelic))
        .then(pl.lit("multiallelic"))
        .when(pl.col("match_flipped") & options.skip_flip)
        .then(pl.lit("strand_flip"))
        .otherwise(pl.lit(None, pl.Utf8))
    )
    return best.with_columns(reason.alias("exclusion_reason"))


def _picked(best: pl.DataFrame) -> pl.DataFrame:
    """The columns of the best matches that the log reports."""
    return best.select(
        "_sid",
        pl.col("_priority"),
        pl.col("exclusion_reason").cast(pl.Enum(EXCLUSION_REASONS)),
        "file_idx",
        "variant_idx",
        "allele_idx",
        "_tid",
        "matched_effect_allele",
        "ambiguous",
        "is_multiallelic",
        "match_flipped",
        "duplicate_best_match",
        "duplicate_id",
    )


#: Scoring rows matched at once; bounds the memory of the candidate pairs.
MATCH_CHUNK_ROWS = 100_000


def _regions(
    scoring: pl.DataFrame, target: pl.DataFrame
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """(scoring rows, target rows) of genome regions, at most about :data:`MATCH_CHUNK_ROWS`
    scoring rows each: chromosomes, cut at positions of the scoring rows when larger."""
    chroms = set(target["chrom"].unique().to_list()) & set(CHROMOSOMES)
    for chrom in scoring["chr_name"].unique(maintain_order=True).to_list():
        if chrom not in chroms:
            continue
        rows = scoring.filter(pl.col("chr_name") == chrom)
        part = target.filter(pl.col("chrom") == chrom)
        n_chunks = -(-rows.height // MATCH_CHUNK_ROWS)
        if n_chunks <= 1:
            yield rows, part
            continue
        pos = np.sort(rows["chr_position"].drop_nulls().to_numpy())
        cuts = np.unique(pos[(np.arange(1, n_chunks) * pos.size) // n_chunks])
        row_chunk = np.searchsorted(cuts, rows["chr_position"].fill_null(-1).to_numpy(), "right")
        part_chunk = np.searchsorted(cuts, part["pos"].to_numpy(), "right")
        for chunk in range(cuts.size + 1):
            yield rows.filter(row_chunk == chunk), part.filter(part_chunk == chunk)


def _best_by_region(
    scoring: pl.DataFrame, target: pl.DataFrame, options: MatchOptions
) -> pl.DataFrame:
    """:func:`_picked` best matches, one genome region at a time.

    Every rule is local to a position (candidates share chromosome and position; ties and
    duplicates concern one scoring row or one target variant), so matching region by region
    gives the same rows while holding only one region's candidate pairs in memory.
    """
    indexed = target.select(  # shares the columns it does not change
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_tid"),
        pl.col("file_idx"),
        pl.col("variant_idx"),
        pl.col("chrom").cast(pl.Utf8).str.replace(CHR_PREFIX, ""),
        pl.col("pos"),
        pl.col("ref"),
        pl.col("alt"),
    )
    parts = [
        _picked(_best_matches(_candidates(_with_flips(rows), _prepare_target(part)), options))
        for rows, part in _regions(scoring, indexed)
    ]
    if not parts:
        empty = _candidates(_with_flips(scoring.clear()), _prepare_target(indexed.clear()))
        return _picked(_best_matches(empty, options))
    return pl.concat(parts)


def _log(
    scoring: pl.DataFrame, picked: pl.DataFrame, target: pl.DataFrame, sampleset: str
) -> pl.DataFrame:
    status = (
        pl.when(pl.col("_priority").is_null())
        .then(pl.lit("unmatched"))
        .when(pl.col("exclusion_reason").is_not_null())
        .then(pl.lit("excluded"))
        .otherwise(pl.lit("matched"))
    )
    joined = scoring.join(picked, on="_sid", how="left").sort("_sid")
    found = target.select(
        pl.col("id").cast(pl.Utf8).alias("target_id"),
        pl.col("ref").cast(pl.Utf8).alias("target_ref"),
        pl.col("alt").cast(pl.Utf8).alias("target_alt"),
    ).select(pl.all().gather(joined["_tid"]))
    match_type = pl.col("_priority").replace_strict(
        list(range(len(MATCH_TYPES))), list(MATCH_TYPES), return_dtype=pl.Utf8
    )
    return (
        joined.hstack(found)
        .with_columns(
            pl.lit(sampleset, pl.Utf8).alias("sampleset"),
            status.alias("match_status"),
            match_type.alias("match_type"),
        )
        .with_columns((pl.col("match_status") == "matched").alias("matched"))
        .select(pl.col(name).cast(dtype) for name, dtype in LOG_SCHEMA.items())
    )


_COUNT_KEYS = ("sampleset", "accession")


def match_counts(log: pl.DataFrame) -> pl.DataFrame:
    """Per (sampleset, accession) counts of a match log, or of a chunk of one (they add up)."""
    status = pl.col("match_status")
    counts = [
        pl.len().cast(pl.Int64).alias("n_variants"),
        (status == "matched").sum().cast(pl.Int64).alias("n_matched"),
        (status == "excluded").sum().cast(pl.Int64).alias("n_excluded"),
        (status == "unmatched").sum().cast(pl.Int64).alias("n_unmatched"),
    ]
    counts += [
        ((status == "matched") & (pl.col("match_type") == name))
        .sum()
        .cast(pl.Int64)
        .alias(f"n_{name}")
        for name in MATCH_TYPES
    ]
    counts += [
        (pl.col("exclusion_reason") == reason).sum().cast(pl.Int64).alias(f"n_excluded_{reason}")
        for reason in EXCLUSION_REASONS
    ]
    return log.group_by(*_COUNT_KEYS).agg(counts)


def summary_from_counts(counts: pl.DataFrame, min_overlap: float) -> pl.DataFrame:
    """The summary from :func:`match_counts` frames concatenated (several chunks add up)."""
    unmatched_rate = (pl.col("n_variants") - pl.col("n_matched")) / pl.col("n_variants")
    return (
        counts.group_by(*_COUNT_KEYS, maintain_order=True)
        .agg(pl.exclude(_COUNT_KEYS).sum())
        .with_columns(
            (pl.col("n_matched") / pl.col("n_variants")).alias("match_rate"),
            pl.lit(min_overlap, pl.Float64).alias("min_overlap"),
            # the pgscatalog-match test: unmatched fraction <= 1 - min_overlap; and a score
            # without any matched variant has nothing to compute, whatever min_overlap says
            ((unmatched_rate <= 1 - min_overlap) & (pl.col("n_matched") > 0)).alias("passed"),
        )
        .sort(*_COUNT_KEYS)
    )


def summarise(log: pl.DataFrame, min_overlap: float) -> pl.DataFrame:
    """Per (sampleset, accession) counts from a match log, the match rate and pass/fail."""
    return summary_from_counts(match_counts(log), min_overlap)


#: Scoring rows per chunk of the match log (:func:`match_log_chunks`).
LOG_CHUNK_ROWS = 100_000


def match_log_chunks(
    scoring: pl.DataFrame,
    target: pl.DataFrame,
    options: MatchOptions,
    sampleset: str,
    chunk_rows: int = LOG_CHUNK_ROWS,
) -> Iterator[pl.DataFrame]:
    """The match log (:data:`LOG_SCHEMA`) in consecutive chunks of ``chunk_rows`` scoring rows.

    Concatenated, the chunks are ``match_variants(...).log``; streaming them keeps one chunk of
    the log in memory rather than all of it. Nothing is yielded for empty scoring variants.
    """
    prepared = _prepare_scoring(scoring)
    picked = _best_by_region(prepared, target, options)
    target = target.select("id", "ref", "alt")  # all the log needs (frees the rest if unshared)
    order = picked["_sid"].arg_sort()  # an index, not a sorted copy of the frame
    sids = picked["_sid"].gather(order)
    for lo in range(0, prepared.height, chunk_rows):
        hi = min(lo + chunk_rows, prepared.height)
        first, last = (int(i) for i in sids.search_sorted(pl.Series([lo, hi]), side="left"))
        part = picked[order.slice(first, last - first)]
        yield _log(prepared.slice(lo, hi - lo), part, target, sampleset)


def match_variants(
    scoring: pl.DataFrame, target: pl.DataFrame, options: MatchOptions, sampleset: str
) -> MatchResult:
    """Match the scoring-file variants of every accession to one sampleset's target variants.

    ``scoring`` has the normalised scoring-file columns (:data:`SCORING_COLUMNS`), ``target`` the
    reader's variant columns (file_idx, variant_idx, chrom, pos, id, ref, alt). ``matched`` holds
    the kept matches of every score, passing or not; use ``summary`` to drop failed scores.
    """
    chunks = list(match_log_chunks(scoring, target, options, sampleset))
    log = pl.concat(chunks) if chunks else pl.DataFrame(schema=LOG_SCHEMA)
    del chunks
    matched = (
        log.filter(pl.col("matched"))
        .join(
            target.select(
                pl.col("file_idx").cast(pl.UInt32),
                pl.col("variant_idx").cast(pl.UInt32),
                pl.col("chrom").cast(pl.Utf8),
                pl.col("pos").cast(pl.Int64),
            ),
            on=["file_idx", "variant_idx"],
            how="left",
        )
        .rename({"target_id": "id"})
        .select(MATCHED_OUTPUT)
    )
    return MatchResult(matched=matched, log=log, summary=summarise(log, options.min_overlap))


def passing(result: MatchResult) -> pl.DataFrame:
    """The matched rows of the scores that passed ``min_overlap``."""
    ok = result.summary.filter(pl.col("passed")).select("sampleset", "accession")
    return result.matched.join(ok, on=["sampleset", "accession"], how="semi")


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def failed_line(row: dict[str, Any]) -> str:
    """Why one summary row failed, for people.

    >>> failed_line({"accession": "PGS000001", "sampleset": "cineca", "n_matched": 46,
    ...              "n_variants": 77, "match_rate": 46 / 77, "min_overlap": 0.75})
    'PGS000001 in cineca: 59.7% of 77 variants matched, below min_overlap 75%'
    >>> failed_line({"accession": "custom", "sampleset": "cineca", "n_matched": 0,
    ...              "n_variants": 2, "match_rate": 0.0, "min_overlap": 0.0})
    'custom in cineca: none of 2 variants matched'
    """
    where = f"{row['accession']} in {row['sampleset']}"
    if row["n_matched"] == 0:
        return f"{where}: none of {row['n_variants']} variants matched"
    return (
        f"{where}: {_percent(row['match_rate'])} of {row['n_variants']} variants matched, "
        f"below min_overlap {row['min_overlap'] * 100:g}%"
    )


def failed_scores(summary: pl.DataFrame) -> list[str]:
    """One human line per score that failed (:func:`failed_line`), in summary order."""
    return [failed_line(row) for row in summary.filter(~pl.col("passed")).iter_rows(named=True)]
