"""Variant matching rules (pgscatalog-match 0.4.0) on hand-made scoring files and targets."""

from __future__ import annotations

import polars as pl
import pytest

from vatti.pipelines.pgs.match import (
    LOG_SCHEMA,
    MATCH_TYPES,
    MatchOptions,
    MatchResult,
    failed_scores,
    match_variants,
    passing,
)
from vatti.pipelines.pgs.streaming import MATCHED_COLUMNS

pytestmark = pytest.mark.unit

Row = tuple[str, int, str, int, str, str | None, float]


def _scoring(rows: list[Row], effect_type: str = "additive") -> pl.DataFrame:
    """Rows of (accession, row_nr, chr_name, chr_position, effect_allele, other_allele, weight)."""
    return pl.DataFrame(
        [(*r, effect_type, None, False) for r in rows],
        schema={
            "accession": pl.Utf8,
            "row_nr": pl.Int64,
            "chr_name": pl.Utf8,
            "chr_position": pl.Int64,
            "effect_allele": pl.Utf8,
            "other_allele": pl.Utf8,
            "effect_weight": pl.Float64,
            "effect_type": pl.Utf8,
            "rsid": pl.Utf8,
            "is_duplicated": pl.Boolean,
        },
        orient="row",
    )


def _target(sites: list[tuple[str, int, str, str]], file_idx: int = 0) -> pl.DataFrame:
    """Sites of (chrom, pos, ref, alt), in file order."""
    return pl.DataFrame(
        [
            (file_idx, i, chrom, pos, f"{chrom}:{pos}:{ref}:{alt}", ref, alt)
            for i, (chrom, pos, ref, alt) in enumerate(sites)
        ],
        schema={
            "file_idx": pl.UInt32,
            "variant_idx": pl.UInt32,
            "chrom": pl.Utf8,
            "pos": pl.Int64,
            "id": pl.Utf8,
            "ref": pl.Utf8,
            "alt": pl.Utf8,
        },
        orient="row",
    )


def _match(
    rows: list[Row], target: pl.DataFrame, options: MatchOptions | None = None
) -> MatchResult:
    return match_variants(_scoring(rows), target, options or MatchOptions(), "set1")


def _only(result: MatchResult) -> dict[str, object]:
    assert result.log.height == 1
    return result.log.row(0, named=True)


# Target A/G at 1:100. Complements: A<->T, G<->C.
@pytest.mark.parametrize(
    ("effect", "other", "match_type", "allele_idx"),
    [
        ("A", "G", "refalt", 0),
        ("G", "A", "altref", 1),
        ("T", "C", "refalt_flip", 0),
        ("C", "T", "altref_flip", 1),
        ("A", None, "no_oa_ref", 0),
        ("G", None, "no_oa_alt", 1),
        ("T", None, "no_oa_ref_flip", 0),
        ("C", None, "no_oa_alt_flip", 1),
    ],
)
def test_each_match_type_counts_the_effect_allele(
    effect: str, other: str | None, match_type: str, allele_idx: int
) -> None:
    result = _match([("S", 0, "1", 100, effect, other, 0.5)], _target([("1", 100, "A", "G")]))
    row = _only(result)
    assert (row["match_status"], row["match_type"], row["allele_idx"]) == (
        "matched",
        match_type,
        allele_idx,
    )
    # the allele counted is the effect allele, or its complement for a flipped match
    counted = ["A", "G"][allele_idx]
    assert row["matched_effect_allele"] == counted
    assert result.matched.select(
        "accession", "allele_idx", "effect_weight", "match_type"
    ).rows() == [("S", allele_idx, 0.5, match_type)]


@pytest.mark.parametrize(
    ("chrom", "pos", "effect", "other"),
    [("1", 100, "A", "C"), ("1", 101, "A", "G"), ("2", 100, "A", "G"), ("1", 100, "AG", None)],
)
def test_no_allele_or_position_agreement_is_unmatched(
    chrom: str, pos: int, effect: str, other: str | None
) -> None:
    result = _match([("S", 0, chrom, pos, effect, other, 1.0)], _target([("1", 100, "A", "G")]))
    row = _only(result)
    assert (row["match_status"], row["match_type"], row["matched"]) == ("unmatched", None, False)
    assert result.matched.is_empty()


def test_ambiguous_variants_are_excluded_unless_kept() -> None:
    rows: list[Row] = [("S", 0, "1", 100, "A", "T", 1.0), ("S", 1, "1", 200, "C", "G", 1.0)]
    target = _target([("1", 100, "A", "T"), ("1", 200, "G", "C")])
    excluded = _match(rows, target)
    assert excluded.log["match_status"].to_list() == ["excluded", "excluded"]
    assert excluded.log["exclusion_reason"].to_list() == ["ambiguous", "ambiguous"]
    assert excluded.matched.is_empty()
    # refalt beats the altref_flip reading of the same A/T pair; the swapped C/G is altref
    kept = _match(rows, target, MatchOptions(keep_ambiguous=True))
    assert kept.matched.select("match_type", "allele_idx").rows() == [("refalt", 0), ("altref", 1)]


def test_excluded_best_match_is_not_replaced_by_a_worse_one() -> None:
    # the same A/T site twice: an excluded ambiguous refalt never falls back to a flip
    rows: list[Row] = [("S", 0, "1", 100, "A", "T", 1.0)]
    result = _match(rows, _target([("1", 100, "A", "T"), ("1", 100, "A", "C")]))
    row = _only(result)
    assert (row["match_status"], row["match_type"]) == ("excluded", "refalt")


def test_multiallelic_sites_are_excluded_unless_kept() -> None:
    target = _target([("1", 100, "A", "G,C"), ("1", 150, "A", "G,C"), ("1", 200, "T", "C")])
    rows: list[Row] = [
        ("S", 0, "1", 100, "C", "A", 1.0),  # effect allele is the second ALT
        ("S", 1, "1", 150, "A", "C", 2.0),  # effect allele is REF
        ("S", 2, "1", 200, "C", "T", 3.0),
    ]
    default = _match(rows, target)
    assert default.log["exclusion_reason"].to_list() == ["multiallelic", "multiallelic", None]
    assert default.matched["row_nr"].to_list() == [2]
    kept = _match(rows, target, MatchOptions(keep_multiallelic=True))
    assert kept.matched.select("row_nr", "match_type", "allele_idx").rows() == [
        (0, "altref", 2),
        (1, "refalt", 0),
        (2, "altref", 1),
    ]
    assert kept.log["is_multiallelic"].to_list() == [True, True, False]


def test_rows_of_one_score_on_the_same_variant_are_dropped() -> None:
    target = _target([("1", 100, "A", "G")])
    rows: list[Row] = [("S", 5, "1", 100, "G", "A", 1.0), ("S", 3, "1", 100, "A", "G", 2.0)]
    dropped = _match(rows, target)
    assert dropped.log["exclusion_reason"].to_list() == ["duplicate", "duplicate"]
    assert dropped.log["duplicate_id"].to_list() == [True, True]
    assert dropped.matched.is_empty()
    first = _match(rows, target, MatchOptions(keep_first_match=True))
    assert first.matched.select("row_nr", "allele_idx").rows() == [(3, 0)]


def test_other_scores_on_the_same_variant_are_independent() -> None:
    target = _target([("1", 100, "A", "G")])
    rows: list[Row] = [("S1", 0, "1", 100, "G", "A", 1.0), ("S2", 0, "1", 100, "A", "G", 2.0)]
    result = _match(rows, target)
    assert result.matched.select("accession", "allele_idx").rows() == [("S1", 1), ("S2", 0)]


def test_tied_best_matches_keep_the_first_target_variant() -> None:
    rows: list[Row] = [("S", 0, "1", 100, "G", "A", 1.0)]
    in_file_1 = _target([("1", 100, "A", "G")], file_idx=1)
    in_file_0 = _target([("1", 50, "C", "T"), ("1", 100, "A", "G"), ("1", 100, "A", "G")])
    for target in (pl.concat([in_file_1, in_file_0]), pl.concat([in_file_0, in_file_1])):
        result = _match(rows, target.sample(fraction=1.0, shuffle=True, seed=1))
        row = _only(result)
        assert (row["file_idx"], row["variant_idx"], row["match_status"]) == (0, 1, "matched")
        assert row["duplicate_best_match"] is True


def test_better_match_type_wins_over_file_order() -> None:
    # the first variant only matches on the other strand, the second directly
    rows: list[Row] = [("S", 0, "1", 100, "G", "A", 1.0)]
    row = _only(_match(rows, _target([("1", 100, "T", "C"), ("1", 100, "A", "G")])))
    assert (row["variant_idx"], row["match_type"]) == (1, "altref")


def test_skip_flip_excludes_strand_flips() -> None:
    rows: list[Row] = [("S", 0, "1", 100, "T", "C", 1.0)]
    row = _only(_match(rows, _target([("1", 100, "A", "G")]), MatchOptions(skip_flip=True)))
    assert (row["match_status"], row["exclusion_reason"]) == ("excluded", "strand_flip")


def test_target_chr_prefix_and_other_contigs() -> None:
    rows: list[Row] = [("S", 0, "1", 100, "G", "A", 1.0), ("S", 1, "MT", 100, "G", "A", 1.0)]
    result = _match(rows, _target([("chr1", 100, "A", "G"), ("MT", 100, "A", "G")]))
    assert result.log["match_status"].to_list() == ["matched", "unmatched"]
    assert result.matched.select("chrom", "pos", "id").rows() == [("chr1", 100, "chr1:100:A:G")]


def test_min_overlap_pass_and_fail() -> None:
    target = _target([("1", 100, "A", "G"), ("1", 200, "C", "T"), ("1", 300, "G", "A")])
    rows: list[Row] = [
        ("PGS1", 0, "1", 100, "G", "A", 1.0),
        ("PGS1", 1, "1", 200, "T", "C", 1.0),
        ("PGS1", 2, "1", 300, "A", "G", 1.0),
        ("PGS1", 3, "1", 400, "A", "G", 1.0),
        ("PGS2", 0, "1", 100, "G", "A", 1.0),
        ("PGS2", 1, "1", 500, "T", "C", 1.0),
        ("PGS2", 2, "1", 600, "A", "G", 1.0),
    ]
    at_limit = _match(rows, target, MatchOptions(min_overlap=0.75))
    summary = at_limit.summary.select("accession", "n_variants", "n_matched", "passed")
    assert summary.rows() == [("PGS1", 4, 3, True), ("PGS2", 3, 1, False)]
    assert failed_scores(at_limit.summary) == [
        "PGS2 in set1: 33.3% of 3 variants matched, below min_overlap 75%"
    ]
    assert passing(at_limit)["accession"].unique().to_list() == ["PGS1"]
    stricter = _match(rows, target, MatchOptions(min_overlap=0.8))
    assert stricter.summary["passed"].to_list() == [False, False]
    assert len(failed_scores(stricter.summary)) == 2
    assert _match(rows, target, MatchOptions(min_overlap=0.0)).summary["passed"].all()


def test_min_overlap_counts_excluded_variants_as_missing() -> None:
    rows: list[Row] = [("S", 0, "1", 100, "A", "T", 1.0), ("S", 1, "1", 200, "C", "T", 1.0)]
    result = _match(rows, _target([("1", 100, "A", "T"), ("1", 200, "C", "T")]))
    row = result.summary.row(0, named=True)
    assert (row["n_matched"], row["n_excluded"], row["n_excluded_ambiguous"]) == (1, 1, 1)
    assert row["match_rate"] == 0.5
    assert row["passed"] is False


def test_invalid_min_overlap() -> None:
    with pytest.raises(ValueError, match="min_overlap"):
        MatchOptions(min_overlap=75)


def test_output_shapes() -> None:
    rows: list[Row] = [
        ("S", 0, "1", 100, "G", "A", 1.0),
        ("S", 1, "1", 200, "T", None, 1.0),
        ("S", 2, "1", 300, "A", "C", 1.0),
        ("S", 3, "1", 100, "A", "T", 1.0),
    ]
    result = _match(rows, _target([("1", 100, "A", "G"), ("1", 200, "A", "T")]))
    assert dict(result.log.schema) == LOG_SCHEMA
    assert result.log["row_nr"].to_list() == [0, 1, 2, 3]
    assert (result.log["sampleset"] == "set1").all()
    assert set(MATCHED_COLUMNS) <= set(result.matched.columns)
    assert {"sampleset", "match_type", "id", "chrom", "pos"} <= set(result.matched.columns)
    summary = result.summary.row(0, named=True)
    assert summary["n_matched"] + summary["n_excluded"] + summary["n_unmatched"] == 4
    assert sum(summary[f"n_{name}"] for name in MATCH_TYPES) == summary["n_matched"]


def test_empty_inputs() -> None:
    result = _match([("S", 0, "1", 100, "G", "A", 1.0)], _target([]))
    assert result.log["match_status"].to_list() == ["unmatched"]
    assert result.summary["passed"].to_list() == [False]
    assert match_variants(_scoring([]), _target([]), MatchOptions(), "x").summary.is_empty()
