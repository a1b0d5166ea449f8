"""Mean imputation from reference frequencies (a plink2 ``.afreq``) against plink2 ``--read-freq``.

A 30-sample cohort is below pgsc_calc's 50-sample threshold, so without reference frequencies no
missing call is imputed; with them, every missing call is imputed from the reference frequency
of its variant, and variants absent from the reference file fall back to the sampleset's own
frequency (plink2 computes those from the data). The reference file here is plink2's own
``--freq`` of the cohort with a third of the frequencies changed and a quarter of the variants
dropped, so both cases occur.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from tests.integration.pgs_calc.test_calculate_vs_plink2 import compare, run, truth_rows

from vatti.pipelines.pgs import synthetic as syn
from vatti.pipelines.pgs.freqs import ReferenceFreqsError
from vatti.pipelines.pgs.orchestration import SCORES_NAME, CalcOptions, calculate
from vatti.pipelines.pgs.targets import GenotypeFile, Sampleset

pytestmark = [pytest.mark.integration, pytest.mark.plink2]

COHORT = syn.CohortSpec(n_samples=30, n_variants=800, seed=611, missing_rate=0.05)
SCORE = syn.ScoreSpec(400, pgs_id="PGS999931", seed=31, swapped=0.4, strand_flipped=0.1)


def reference_afreq(pfile: Path, out: Path) -> Path:
    """plink2's --freq of ``pfile`` with every third frequency changed, every fourth row gone."""
    run("--pfile", str(pfile), "--freq", "--out", str(out))
    table = pl.read_csv(f"{out}.afreq", separator="\t", infer_schema=False)
    line = pl.int_range(pl.len())
    changed = table.with_columns(
        pl.when(line % 3 == 0)
        .then((1 - pl.col("ALT_FREQS").cast(pl.Float64)) * 0.5 + 0.1)
        .otherwise(pl.col("ALT_FREQS").cast(pl.Float64))
        .round(6)
        .cast(pl.Utf8)
        .alias("ALT_FREQS")
    ).filter(line % 4 != 1)
    path = out.with_suffix(".afreq")
    changed.write_csv(path, separator="\t")
    return path


@dataclass(frozen=True)
class Cohort:
    dir: Path
    scorefile: Path
    truth: pl.DataFrame  # plink2 score rows: ID, A1, WEIGHT
    afreq: Path


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    base = tmp_path_factory.mktemp("reffreq")
    variants = syn.write_pfile(base / "cohort", COHORT)
    syn.write_vcf_gz(base / "cohort.vcf.gz", COHORT)
    ((scorefile, rows),) = syn.write_score_set(base / "scores", variants, [SCORE])
    truth = truth_rows(variants, rows, rows.matchable())
    return Cohort(base, scorefile, truth, reference_afreq(base / "cohort", base / "ref"))


def plink2_read_freq(work: Path, pfile: Path, rows: pl.DataFrame, afreq: Path) -> pl.DataFrame:
    score = work / "truth.score.tsv"
    rows.write_csv(score, separator="\t")
    out = work / "p2ref"
    run(
        "--pfile", str(pfile), "--read-freq", str(afreq),
        "--score", str(score), "1", "2", "3", "header-read", "cols=+scoresums,+denom",
        "--out", str(out),
    )  # fmt: skip
    return pl.read_csv(f"{out}.sscore", separator="\t").select(
        pl.col("IID").cast(pl.Utf8),
        pl.col("WEIGHT_SUM").alias("SUM"),
        pl.col("DENOM").cast(pl.Int64),
        pl.col("ALLELE_CT").cast(pl.Int64),
    )


@pytest.mark.parametrize("fmt", ["pfile", "vcf"])
def test_reference_freqs_impute_like_plink2_read_freq(
    cohort: Cohort, fmt: str, tmp_path: Path
) -> None:
    base, scorefile, afreq, rows = cohort.dir, cohort.scorefile, cohort.afreq, cohort.truth
    theirs = plink2_read_freq(tmp_path, base / "cohort", rows, afreq)
    target = (
        GenotypeFile.from_prefix("vcf", base / "cohort.vcf.gz")
        if fmt == "vcf"
        else GenotypeFile.from_prefix("pfile", base / "cohort")
    )
    sampleset = Sampleset("small", [target])

    with_ref = calculate(
        [scorefile], [sampleset], CalcOptions("GRCh37", reference_freqs=afreq), tmp_path / "ref"
    )
    without = calculate([scorefile], [sampleset], CalcOptions("GRCh37"), tmp_path / "plain")

    worst = compare(with_ref.scores, theirs, f"{fmt} with reference frequencies")
    # mean imputation although the sampleset is under 50 samples: DENOM counts every variant
    assert with_ref.scores["DENOM"].n_unique() == 1
    assert with_ref.scores["DENOM"][0] == 2 * rows.height
    # without the reference, the missing calls drop out instead
    assert without.scores["DENOM"].n_unique() > 1
    assert not np.allclose(with_ref.scores["SUM"].to_numpy(), without.scores["SUM"].to_numpy())
    print(f"{fmt}: max rel diff of SUM against plink2 --read-freq {worst:.2e}, DENOM equal")


def test_cli_reads_reference_freqs(cohort: Cohort, tmp_path: Path) -> None:
    base, scorefile, afreq = cohort.dir, cohort.scorefile, cohort.afreq
    argv = [
        sys.executable, "-m", "vatti", "pgs", "score", "--scores", str(scorefile),
        "--target", str(base / "cohort"), "--build", "GRCh37", "--ref-freqs", str(afreq),
        "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    scores = pl.read_csv(tmp_path / "out" / SCORES_NAME, separator="\t")
    assert scores["DENOM"].n_unique() == 1


def test_bad_reference_file_is_a_clear_error(cohort: Cohort, tmp_path: Path) -> None:
    base, scorefile = cohort.dir, cohort.scorefile
    bad = tmp_path / "bad.afreq"
    bad.write_text("#CHROM\tID\tREF\tALT\tALT_FREQS\n22\trs1\tA\tG,T\t0.2\n")
    sampleset = Sampleset("small", [GenotypeFile.from_prefix("pfile", base / "cohort")])
    with pytest.raises(ReferenceFreqsError, match=r"line 2: ALT_FREQS '0.2' .* 'G,T'"):
        calculate([scorefile], [sampleset], CalcOptions("GRCh37", reference_freqs=bad), tmp_path)
    assert not (tmp_path / SCORES_NAME).exists()

    no_column = tmp_path / "no.afreq"
    no_column.write_text("#CHROM\tID\tREF\tALT\n22\trs1\tA\tG\n")
    with pytest.raises(ReferenceFreqsError, match=r"lacks the column\(s\) ALT_FREQS"):
        calculate(
            [scorefile], [sampleset], CalcOptions("GRCh37", reference_freqs=no_column), tmp_path
        )
