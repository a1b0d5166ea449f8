"""Our matcher against pgscatalog-match 0.4.0 on the shared PGS Catalog fixtures.

Reference values come from the real tool: in a side venv (``pip install pgscatalog-match==0.4.0``)
we ran, for each target and flag combination below,
``pgscatalog-match --dataset test --scorefiles <scorefile> --target <pvar> --outdir <dir>
--min_overlap 0.0 [--keep_ambiguous] [--keep_multiallelic]`` and read ``test_summary.csv``
(``count`` per match_status) and the ``*.scorefile.gz`` files (sum of the weights written).
The CINECA test compares with pgsc_calc's own log and scorefile stored in the shared data.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import zstandard

from vatti.pipelines.pgs.match import (
    MatchOptions,
    MatchResult,
    failed_scores,
    match_variants,
    passing,
)
from vatti.pipelines.pgs.streaming import score_samplesets
from vatti.pipelines.pgs.targets import GenotypeFile, Sampleset, read_variants
from vatti.pipelines.pgs.targets.pvar import read_pvar
from vatti.testing.services import shared_pgs_data

pytestmark = pytest.mark.integration

MATCH_DATA = "pygscatalog/pgscatalog.utils/packages/pgscatalog.match/tests/data"

# (target, keep_ambiguous, keep_multiallelic) -> accession -> (matched, excluded, weight sum),
# from pgscatalog-match 0.4.0 as described in the module docstring.
_GOOD = {"PGS000001": (70, 7, 1.417940432), "PGS000002": (69, 9, 1.287748958)}
_GOOD_AMBIGUOUS = {"PGS000001": (77, 0, 1.806458435), "PGS000002": (76, 2, 1.684914784)}
PGSCATALOG_MATCH: dict[tuple[str, bool, bool], dict[str, tuple[int, int, float]]] = {
    ("good_match", False, False): _GOOD,
    ("good_match", True, False): _GOOD_AMBIGUOUS,
    ("good_match", False, True): _GOOD,
    ("good_match", True, True): _GOOD_AMBIGUOUS,
    ("multiallelic", False, False): {
        "PGS000001": (68, 9, 1.232117686),
        "PGS000002": (68, 10, 1.269025344),
    },
    ("multiallelic", True, False): {
        "PGS000001": (74, 3, 1.503919889),
        "PGS000002": (74, 4, 1.534987484),
    },
    ("multiallelic", False, True): _GOOD,
    ("multiallelic", True, True): _GOOD_AMBIGUOUS,
}


@pytest.fixture(scope="module")
def data() -> Path:
    return shared_pgs_data()


def _normalised(path: Path) -> pl.DataFrame:
    return pl.read_csv(
        path,
        separator="\t",
        schema_overrides={"chr_name": pl.Utf8, "other_allele": pl.Utf8, "effect_allele": pl.Utf8},
    )


def _pvar(path: Path) -> pl.DataFrame:
    return read_pvar(path).with_columns(file_idx=pl.lit(0, pl.UInt32))


def _counted_allele(result: MatchResult, target: pl.DataFrame) -> pl.DataFrame:
    """Matched rows with the target allele their allele_idx points at."""
    alleles = target.select(
        "file_idx",
        "variant_idx",
        pl.concat_list(pl.col("ref"), pl.col("alt").str.split(",")).alias("alleles"),
    )
    return result.matched.join(alleles, on=["file_idx", "variant_idx"]).with_columns(
        pl.col("alleles").list.get(pl.col("allele_idx").cast(pl.Int64)).alias("counted")
    )


@pytest.mark.parametrize(("target_name", "keep_ambiguous", "keep_multiallelic"), PGSCATALOG_MATCH)
def test_counts_equal_pgscatalog_match(
    data: Path, target_name: str, keep_ambiguous: bool, keep_multiallelic: bool
) -> None:
    scoring = _normalised(data / MATCH_DATA / "good_match_scorefile.txt")
    target = _pvar(data / MATCH_DATA / f"{target_name}.pvar")
    options = MatchOptions(
        keep_ambiguous=keep_ambiguous, keep_multiallelic=keep_multiallelic, min_overlap=0.0
    )
    result = match_variants(scoring, target, options, "test")

    expected = PGSCATALOG_MATCH[(target_name, keep_ambiguous, keep_multiallelic)]
    summary = {row["accession"]: row for row in result.summary.iter_rows(named=True)}
    sums = dict(result.matched.group_by("accession").agg(pl.sum("effect_weight")).iter_rows())
    for accession, (n_matched, n_excluded, weight_sum) in expected.items():
        row = summary[accession]
        assert (row["n_matched"], row["n_excluded"]) == (n_matched, n_excluded), accession
        assert row["n_variants"] == scoring.filter(pl.col("accession") == accession).height
        assert sums[accession] == pytest.approx(weight_sum, abs=1e-9)

    # what is counted is the effect allele itself (this fixture has no strand flips)
    counted = _counted_allele(result, target).join(
        scoring.select("accession", "row_nr", "effect_allele"), on=["accession", "row_nr"]
    )
    assert (counted["counted"] == counted["effect_allele"]).all()


def test_duplicated_scorefile_equals_pgscatalog_match(data: Path) -> None:
    scoring = _normalised(data / MATCH_DATA / "duplicated_scorefile.txt")
    target = _pvar(data / MATCH_DATA / "good_match.pvar")
    result = match_variants(scoring, target, MatchOptions(min_overlap=0.0), "test")
    counted = _counted_allele(result, target)
    # pgscatalog-match 0.4.0 wrote: test C 0.210422987; test2 T 0.210422987 and A 0.018723614;
    # test3 T -0.005213567 (its C/G row excluded as ambiguous)
    assert counted.sort("accession", "row_nr").select(
        "accession", "id", "counted", "effect_weight"
    ).rows() == [
        ("test", "11:69331418:T:C", "C", 0.210422987),
        ("test2", "11:69331418:T:C", "T", 0.210422987),
        ("test2", "11:69379161:A:C", "A", 0.018723614),
        ("test3", "5:1279790:T:C", "T", -0.005213567),
    ]
    assert result.summary.select("accession", "n_excluded_ambiguous").rows() == [
        ("test", 0),
        ("test2", 0),
        ("test3", 1),
    ]


def test_cineca_equals_pgsc_calc_log(data: Path) -> None:
    """Row by row against generated/cineca_PGS001229_22 (pgsc_calc's match log and scorefile)."""
    generated = data / "generated/cineca_PGS001229_22"
    scoring = _normalised(generated / "normalised_PGS001229_22.txt")
    prefix = data / "pgsc_calc/assets/examples/target_genomes/cineca_synthetic_subset"
    sampleset = Sampleset("cineca", [GenotypeFile.from_prefix("pfile", prefix)])
    target = read_variants(sampleset)
    result = match_variants(scoring, target, MatchOptions(), "cineca")

    log = pl.read_csv(generated / "cineca_log.csv.gz", infer_schema=False)
    theirs = (
        log.filter(pl.col("match_status") != "not_best")
        .select(pl.col("row_nr").cast(pl.Int64), "match_status", "match_type")
        .sort("row_nr")
    )
    ours = result.log.select("row_nr", "match_status", "match_type").sort("row_nr")
    assert theirs.height == ours.height == scoring.height
    assert ours.with_columns(pl.col("match_type").fill_null("NA")).equals(
        theirs.with_columns(pl.col("match_type").fill_null("NA"))
    )

    # the plink2 scorefile: ID chr:pos:ref:alt, the counted allele and the weight
    written = pl.read_csv(
        generated / "cineca_22_additive_0.scorefile.gz", separator="\t", infer_schema=False
    ).select(
        pl.col("ID").str.split(":").list.get(1).cast(pl.Int64).alias("pos"),
        pl.col("effect_allele").alias("counted"),
        pl.col("PGS001229").cast(pl.Float64).alias("effect_weight"),
    )
    mine = _counted_allele(result, target).select("pos", "counted", "effect_weight")
    assert mine.sort("pos").equals(written.sort("pos"))
    assert result.summary.select("n_matched", "n_excluded_ambiguous", "n_unmatched").rows() == [
        (written.height, 47, 6)  # generated/README: 782 matched, 47 ambiguous, 6 unmatched
    ]
    assert result.summary["passed"].to_list() == [True]


def test_bad_match_scorefile_fails_min_overlap(data: Path) -> None:
    scoring = pl.read_csv(
        data / MATCH_DATA / "bad_match_scorefile.txt.gz",
        separator="\t",
        schema_overrides={"chr_name": pl.Utf8, "other_allele": pl.Utf8, "effect_allele": pl.Utf8},
    )
    target = _pvar(data / MATCH_DATA / "good_match.pvar")
    result = match_variants(scoring, target, MatchOptions(), "test")
    assert not result.summary["passed"].any()
    row = result.summary.row(0, named=True)
    assert row["n_variants"] == scoring.height
    assert row["n_matched"] == 0  # pgscatalog-match: ZeroMatchesError
    assert failed_scores(result.summary) == [
        f"{row['accession']} in test: none of {scoring.height} variants matched"
    ]


def test_cineca_match_then_score_equals_pgsc_calc(data: Path) -> None:
    """Our matches fed to our scorer give pgsc_calc's plink2 sums (printed to 6 digits)."""
    generated = data / "generated/cineca_PGS001229_22"
    scoring = _normalised(generated / "normalised_PGS001229_22.txt")
    prefix = data / "pgsc_calc/assets/examples/target_genomes/cineca_synthetic_subset"
    sampleset = Sampleset("cineca", [GenotypeFile.from_prefix("pfile", prefix)])
    result = match_variants(scoring, read_variants(sampleset), MatchOptions(), "cineca")
    scores = score_samplesets([sampleset], passing(result))

    raw = zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO((generated / "cineca_22_additive_0.sscore.zst").read_bytes())
    )
    expected = pl.read_csv(io.BytesIO(raw.read()), separator="\t")
    joined = scores.join(expected, on="IID")
    assert joined.height == expected.height == 2504
    assert (joined["DENOM"] == joined["DENOM_right"]).all()
    assert np.allclose(joined["SUM"].to_numpy(), joined["PGS001229_SUM"].to_numpy(), atol=1e-5)
