"""``calculate`` end to end on a hand-made 4-variant x 3-sample PLINK 2 fileset.

Genotypes (copies of ALT; samples a, b, c; "-" missing)::

    v0 22:100 A/G   [0, 1, 2]
    v1 22:200 C/T   [2, -, 1]
    v2 22:300 A/T   [1, 1, 1]   (ambiguous)
    v3 22:400 G/A   [1, 0, 2]

Three samples: no mean imputation (pgsc_calc's rule below 50), so a missing call adds nothing
and drops out of that sample's DENOM (twice its non-missing calls among the score's variants).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pgenlib
import polars as pl
import pytest

from vatti.pipelines.errors import StepFailed
from vatti.pipelines.pgs.orchestration import (
    LOG_NAME,
    REPORT_NAME,
    SCORES_NAME,
    SUMMARY_JSON,
    SUMMARY_TSV,
    TIMINGS_NAME,
    CalcOptions,
    NoScorePassed,
    calculate,
    report_parameters,
)
from vatti.pipelines.pgs.scorefile import ScoringFileBuildError
from vatti.pipelines.pgs.targets import GenotypeFile, Sampleset

pytestmark = pytest.mark.unit

GENO = np.array([[0, 1, 2], [2, -9, 1], [1, 1, 1], [1, 0, 2]], dtype=np.int8)
ALLELES = [("A", "G"), ("C", "T"), ("A", "T"), ("G", "A")]

# S1: v0 ALT G (w 1); v1 REF C, swapped (w 10); v2 ambiguous, excluded (w 100);
# v3 T/C on the other strand = A/G, ALT A (w 1000); 22:500 absent (w 5). 3 of 5 matched.
S1 = """#pgs_id=PGS000101
#trait_reported=test
#genome_build=GRCh37
chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight
22\t100\tG\tA\t1
22\t200\tC\tT\t10
22\t300\tA\tT\t100
22\t400\tT\tC\t1000
22\t500\tA\tG\t5
"""
S1_SUM = [0 + 0 + 1 * 1000, 1 + 0 + 0, 2 + 1 * 10 + 2 * 1000]
S1_DENOM = [6, 4, 6]

# S2: v0 REF A dominant: min([2, 1, 0], 1) = [1, 1, 0] (w 1); v3 ALT A recessive:
# max([1, 0, 2] - 1, 0) = [0, 0, 1] (w 10); v1 ALT T additive: [2, -, 1] (w 100).
S2 = """#pgs_id=PGS000102
#trait_reported=test
#genome_build=GRCh37
chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\tis_dominant\tis_recessive
22\t100\tA\tG\t1\tTRUE\tFALSE
22\t400\tA\tG\t10\tFALSE\tTRUE
22\t200\tT\tC\t100\tFALSE\tFALSE
"""
S2_SUM = [1 + 0 + 200, 1 + 0 + 0, 0 + 10 + 100]
S2_DENOM = [6, 4, 6]


@pytest.fixture
def cohort(tmp_path: Path) -> Sampleset:
    prefix = tmp_path / "tiny"
    writer = pgenlib.PgenWriter(f"{prefix}.pgen".encode(), 3, 4, False)
    writer.append_biallelic_batch(GENO)
    writer.close()
    Path(f"{prefix}.psam").write_text("#IID\na\nb\nc\n")
    rows = "".join(
        f"22\t{100 * (v + 1)}\tv{v}\t{ref}\t{alt}\n" for v, (ref, alt) in enumerate(ALLELES)
    )
    Path(f"{prefix}.pvar").write_text("#CHROM\tPOS\tID\tREF\tALT\n" + rows)
    return Sampleset("tiny", [GenotypeFile.from_prefix("pfile", prefix)])


@pytest.fixture
def scorefiles(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "s1.txt", tmp_path / "s2.txt"]
    for path, text in zip(paths, (S1, S2), strict=True):
        path.write_text(text)
    return paths


def test_hand_computed_scores(cohort: Sampleset, scorefiles: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = calculate(scorefiles, [cohort], CalcOptions("GRCh37", min_overlap=0.5), out)
    assert result.outputs == [
        SCORES_NAME, LOG_NAME, SUMMARY_JSON, SUMMARY_TSV, REPORT_NAME, TIMINGS_NAME
    ]  # fmt: skip
    assert (out / REPORT_NAME).read_text().startswith("<!DOCTYPE html>")
    for name in result.outputs:
        assert (out / name).is_file()
    scores = pl.read_csv(out / SCORES_NAME, separator="\t")
    assert scores.columns == ["sampleset", "FID", "IID", "PGS", "SUM", "DENOM", "AVG"]
    assert scores["PGS"].to_list() == ["PGS000101"] * 3 + ["PGS000102"] * 3
    assert scores["IID"].to_list() == ["a", "b", "c"] * 2
    assert scores["SUM"].to_list() == pytest.approx(S1_SUM + S2_SUM)
    assert scores["DENOM"].to_list() == S1_DENOM + S2_DENOM
    assert scores["AVG"].to_list() == pytest.approx(
        [s / d for s, d in zip(S1_SUM + S2_SUM, S1_DENOM + S2_DENOM, strict=True)]
    )
    summary = result.summary.sort("accession")
    assert summary["n_matched"].to_list() == [3, 3]
    assert summary["n_excluded_ambiguous"].to_list() == [1, 0]
    assert summary["n_unmatched"].to_list() == [1, 0]
    assert set(json.loads((out / TIMINGS_NAME).read_text())) >= {"scoring", "total"}


def test_keep_ambiguous_counts_the_written_allele(
    cohort: Sampleset, scorefiles: list[Path], tmp_path: Path
) -> None:
    options = CalcOptions("GRCh37", min_overlap=0.5, keep_ambiguous=True)
    result = calculate(scorefiles[:1], [cohort], options, tmp_path)
    # v2 A/T: effect A is REF as written, [1, 1, 1] copies, weight 100
    assert result.scores["SUM"].to_list() == pytest.approx([s + 100 for s in S1_SUM])
    assert result.scores["DENOM"].to_list() == [d + 2 for d in S1_DENOM]


def test_a_score_below_min_overlap_is_dropped_and_the_others_computed(
    cohort: Sampleset, scorefiles: list[Path], tmp_path: Path
) -> None:
    result = calculate(scorefiles, [cohort], CalcOptions("GRCh37"), tmp_path)  # min_overlap 0.75

    scores = pl.read_csv(tmp_path / SCORES_NAME, separator="\t")
    assert scores["PGS"].to_list() == ["PGS000102"] * 3
    assert scores["SUM"].to_list() == pytest.approx(S2_SUM)
    summary = pl.read_csv(tmp_path / SUMMARY_TSV, separator="\t").sort("accession")
    assert summary["accession"].to_list() == ["PGS000101", "PGS000102"]
    assert summary["passed"].to_list() == [False, True]
    assert summary["match_rate"].to_list() == pytest.approx([0.6, 1.0])
    assert result.failed["accession"].to_list() == ["PGS000101"]
    saved = json.loads((tmp_path / SUMMARY_JSON).read_text())
    assert {r["accession"]: r["passed"] for r in saved} == {"PGS000101": False, "PGS000102": True}


def test_no_passing_score_fails_with_the_reports_written(
    cohort: Sampleset, scorefiles: list[Path], tmp_path: Path
) -> None:
    with pytest.raises(NoScorePassed) as caught:
        calculate(scorefiles[:1], [cohort], CalcOptions("GRCh37"), tmp_path)
    assert caught.value.code == "pgs_min_overlap"
    assert caught.value.step == "match"
    assert caught.value.exit_code == 65
    assert caught.value.message == (
        "no score passed min_overlap in sampleset tiny: "
        "PGS000101 in tiny: 60.0% of 5 variants matched, below min_overlap 75%"
    )
    assert (tmp_path / LOG_NAME).is_file()
    assert (tmp_path / SUMMARY_JSON).is_file()
    assert not (tmp_path / SCORES_NAME).exists()


def test_min_overlap_zero_with_nothing_matched_is_an_error(
    cohort: Sampleset, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text(
        S1.replace("#pgs_id=PGS000101", "#pgs_id=nowhere").replace("\n22\t", "\n21\t")
    )
    with pytest.raises(NoScorePassed, match="nowhere in tiny: none of 5 variants matched"):
        calculate([elsewhere], [cohort], CalcOptions("GRCh37", min_overlap=0.0), tmp_path)
    summary = pl.read_csv(tmp_path / SUMMARY_TSV, separator="\t")
    assert summary.select("n_matched", "passed").rows() == [(0, False)]
    assert not (tmp_path / SCORES_NAME).exists()


def test_a_sampleset_left_without_scores_fails_the_run(
    cohort: Sampleset, scorefiles: list[Path], tmp_path: Path
) -> None:
    """As pgsc_calc, which matches each sampleset apart: one with no passing score fails the
    run, even when the scores pass in another."""
    tiny = cohort.files[0]
    moved = tmp_path / "moved"
    shutil.copyfile(tiny.geno, f"{moved}.pgen")
    shutil.copyfile(tiny.samples, f"{moved}.psam")
    lines = tiny.variants.read_text().splitlines(keepends=True)
    fields = [line.split("\t") for line in lines[1:]]
    shifted = ["\t".join([c, str(int(pos) + 1), *rest]) for c, pos, *rest in fields]
    Path(f"{moved}.pvar").write_text(lines[0] + "".join(shifted))  # 22:101, ...: no match
    other = Sampleset("other", [GenotypeFile.from_prefix("pfile", moved)])

    with pytest.raises(NoScorePassed) as caught:
        calculate(scorefiles[1:], [cohort, other], CalcOptions("GRCh37"), tmp_path / "out")
    assert caught.value.message == (
        "no score passed min_overlap in sampleset other: "
        "PGS000102 in other: none of 3 variants matched"
    )


def test_no_scorefiles_or_repeated_sampleset_names(cohort: Sampleset, tmp_path: Path) -> None:
    with pytest.raises(StepFailed, match="no scoring files"):
        calculate([], [cohort], CalcOptions("GRCh37"), tmp_path)
    with pytest.raises(StepFailed, match="same name"):
        calculate([tmp_path / "x.txt"], [cohort, cohort], CalcOptions("GRCh37"), tmp_path)


def test_the_target_build_is_checked(
    cohort: Sampleset, scorefiles: list[Path], tmp_path: Path
) -> None:
    with pytest.raises(ScoringFileBuildError, match="GRCh38"):
        calculate(scorefiles, [cohort], CalcOptions("GRCh38", min_overlap=0.5), tmp_path)


def test_the_reports_parameters_are_the_users_not_internal_hooks(tmp_path: Path) -> None:
    options = CalcOptions(
        "GRCh38", min_overlap=0.5, reference_freqs=tmp_path / "panel.afreq",
        variant_filter=lambda _name, table: table,
    )  # fmt: skip
    sampleset = Sampleset("cohort", [GenotypeFile.from_prefix("pfile", tmp_path / "cohort")])
    params = report_parameters([tmp_path / "PGS1.txt"], [sampleset], options)
    assert "variant_filter" not in params
    assert params["min_overlap"] == 0.5
    assert params["reference_freqs"] == "panel.afreq"
    assert params["scoring files"] == "PGS1.txt"
