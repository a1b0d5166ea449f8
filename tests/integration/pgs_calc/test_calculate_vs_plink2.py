"""The whole chain (scoring file -> match -> score, :func:`calculate`) against plink2 ``--score``.

Synthetic cohorts (missing calls, swapped, strand-flipped, ambiguous and absent variants) are
scored by ``calculate`` from their PGS Catalog scoring files, in PLINK 2, PLINK 1 and VCF.gz form.
plink2's score files are built independently, from the synthetic truth (:class:`ScoreRows`: which
target variant and allele each row counts), and plink2 scores the PLINK 2 fileset once per score
(one score per run, so its DENOM counts only that score's variants, as ours does). pgsc_calc's
rule: mean imputation from 50 samples up, ``no-mean-imputation`` below.

Agreement asked: SUM within a relative 1e-5 (plink2 prints 6 significant digits), DENOM and
ALLELE_CT exactly, per sample and score.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from vatti.pipelines.pgs import synthetic as syn
from vatti.pipelines.pgs.orchestration import SCORES_NAME, CalcOptions, calculate
from vatti.pipelines.pgs.targets import GenotypeFile, Sampleset
from vatti.testing.services import plink2_path

pytestmark = [pytest.mark.integration, pytest.mark.plink2]

COHORTS = {
    "n120": syn.CohortSpec(n_samples=120, n_variants=1200, seed=501, missing_rate=0.02),
    "n30": syn.CohortSpec(n_samples=30, n_variants=1200, seed=502, missing_rate=0.03),
}
SCORE_SPECS = (
    syn.ScoreSpec(500, pgs_id="PGS999921", seed=21),
    syn.ScoreSpec(200, pgs_id="PGS999922", seed=22, swapped=0.5, strand_flipped=0.1),
    # another case_seed: a variant shared with the other scores may count the other allele here
    syn.ScoreSpec(60, pgs_id="PGS999923", seed=23, case_seed=99),
)
#: Tolerance on SUM: plink2 prints 6 significant digits; the absolute floor only guards sums
#: that cancel to about zero.
RTOL = 1e-5
ATOL = 1e-9


def run(*args: str) -> None:
    subprocess.run([plink2_path(), "--threads", "1", *args], check=True, capture_output=True)


def plink2_score(
    pfile: Path,
    rows: pl.DataFrame,
    out: Path,
    *,
    mean_impute: bool,
    effect: str = "additive",
) -> pl.DataFrame:
    """plink2 --score of ``rows`` (ID, A1, WEIGHT) on ``pfile``: IID, SUM, DENOM, ALLELE_CT."""
    score = out.with_suffix(".score.tsv")
    rows.write_csv(score, separator="\t")
    modifiers = [] if effect == "additive" else [effect]
    if not mean_impute:
        modifiers.append("no-mean-imputation")
    run(
        "--pfile", str(pfile), "--score", str(score), "1", "2", "3", "header-read", *modifiers,
        "list-variants", "cols=+scoresums,+denom", "--out", str(out),
    )  # fmt: skip
    sscore = pl.read_csv(f"{out}.sscore", separator="\t")
    used = Path(f"{out}.sscore.vars").read_text().split()
    assert sorted(used) == sorted(rows["ID"].to_list()), "plink2 must use every row"
    return sscore.select(
        pl.col("IID").cast(pl.Utf8),
        pl.col("WEIGHT_SUM").alias("SUM"),
        pl.col("DENOM").cast(pl.Int64),
        pl.col("ALLELE_CT").cast(pl.Int64),
    )


def truth_rows(variants: syn.Variants, rows: syn.ScoreRows, keep: np.ndarray) -> pl.DataFrame:
    """plink2 score rows from the synthetic truth: target variant ID, counted allele, weight."""
    idx = rows.target_idx[keep]
    allele = np.where(rows.effect_is_ref[keep], variants.ref[idx], variants.alt[idx])
    ids = variants.id_series().gather(idx)
    return pl.DataFrame({"ID": ids, "A1": allele, "WEIGHT": rows.weight[keep]})


def compare(ours: pl.DataFrame, theirs: pl.DataFrame, label: str) -> float:
    """Assert agreement; return the largest relative difference of SUM."""
    assert ours["IID"].to_list() == theirs["IID"].to_list(), label
    got, want = ours["SUM"].to_numpy(), theirs["SUM"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=label)
    assert ours["DENOM"].to_list() == theirs["DENOM"].to_list(), label
    assert ours["ALLELE_CT"].to_list() == theirs["ALLELE_CT"].to_list(), label
    rel = np.abs(got - want) / np.maximum(np.abs(want), ATOL)
    return float(rel.max())


@dataclass(frozen=True)
class Made:
    spec: syn.CohortSpec
    variants: syn.Variants
    dir: Path
    scores: list[tuple[Path, syn.ScoreRows]]
    plink2: dict[str, pl.DataFrame]  # per pgs_id

    @property
    def mean_impute(self) -> bool:
        return self.spec.n_samples >= 50

    def target(self, fmt: str) -> GenotypeFile:
        if fmt == "vcf":
            return GenotypeFile.from_prefix("vcf", self.dir / "cohort.vcf.gz")
        return GenotypeFile.from_prefix(fmt, self.dir / "cohort")  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=sorted(COHORTS))
def made(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Made:
    spec = COHORTS[request.param]
    base = tmp_path_factory.mktemp(request.param)
    variants = syn.write_pfile(base / "cohort", spec)
    run("--pfile", str(base / "cohort"), "--make-bed", "--out", str(base / "cohort"))
    syn.write_vcf_gz(base / "cohort.vcf.gz", spec)
    scores = syn.write_score_set(base / "scores", variants, SCORE_SPECS)
    made = Made(spec, variants, base, scores, {})
    for _, rows in scores:
        made.plink2[rows.pgs_id] = plink2_score(
            base / "cohort",
            truth_rows(variants, rows, rows.matchable()),
            base / rows.pgs_id,
            mean_impute=made.mean_impute,
        )
    return made


@pytest.mark.parametrize("fmt", ["pfile", "bfile", "vcf"])
def test_calculate_agrees_with_plink2(made: Made, fmt: str, tmp_path: Path) -> None:
    files = [path for path, _ in made.scores]
    result = calculate(
        files, [Sampleset("synthetic", [made.target(fmt)])], CalcOptions("GRCh37"), tmp_path
    )
    assert (tmp_path / SCORES_NAME).is_file()
    # the matcher found exactly the rows the truth says, with the right allele
    summary = result.summary.sort("accession")
    for (_, rows), n_matched in zip(made.scores, summary["n_matched"], strict=True):
        assert n_matched == int(rows.matchable().sum()), rows.pgs_id
    assert summary["passed"].all()
    worst = 0.0
    for _, rows in made.scores:
        ours = result.scores.filter(pl.col("PGS") == rows.pgs_id)
        worst = max(worst, compare(ours, made.plink2[rows.pgs_id], f"{fmt} {rows.pgs_id}"))
    denom = result.scores["DENOM"].to_numpy()
    if made.mean_impute:  # DENOM is twice the score's own variant count
        assert len(set(result.scores.filter(pl.col("PGS") == "PGS999921")["DENOM"])) == 1
    else:  # the missing calls drop out of the sample's count
        assert (denom < denom.max()).any()
    print(f"{made.spec.n_samples} samples {fmt}: max rel diff of SUM {worst:.2e}, DENOM equal")


def test_match_log_follows_the_truth(made: Made, tmp_path: Path) -> None:
    files = [path for path, _ in made.scores]
    calculate(files, [Sampleset("s", [made.target("pfile")])], CalcOptions("GRCh37"), tmp_path)
    log = pl.read_csv(tmp_path / "match_log.tsv.gz", separator="\t", infer_schema_length=None)
    for _, rows in made.scores:
        got = log.filter(pl.col("accession") == rows.pgs_id).sort("row_nr")
        assert got.height == rows.pos.size
        status = got["match_status"].to_numpy()
        present = rows.target_idx >= 0
        assert (status[~present] == "unmatched").all()
        assert (status[present & rows.ambiguous] == "excluded").all()
        keep = rows.matchable()
        assert (status[keep] == "matched").all()
        assert (got["variant_idx"].to_numpy()[keep] == rows.target_idx[keep]).all()
        want_allele = np.where(rows.effect_is_ref[keep], 0, 1)
        assert (got["allele_idx"].to_numpy()[keep] == want_allele).all()
        flipped = got["match_type"].to_numpy()[keep].astype(str)
        assert (np.char.endswith(flipped, "_flip") == rows.flipped[keep]).all()


def test_keep_ambiguous_scores_them_like_plink2(made: Made, tmp_path: Path) -> None:
    _, rows = made.scores[0]
    result = calculate(
        [made.scores[0][0]],
        [Sampleset("s", [made.target("pfile")])],
        CalcOptions("GRCh37", keep_ambiguous=True),
        tmp_path,
    )
    keep = rows.target_idx >= 0
    assert rows.ambiguous[keep].sum() > 10
    # An A/T or C/G row always matches without a flip (its effect allele is REF or ALT as
    # written), so its written effect allele is the one counted, even where the synthetic truth
    # drew a strand flip: no matcher can tell those apart.
    truth = truth_rows(made.variants, rows, keep)
    counted = np.where(rows.ambiguous[keep], rows.effect[keep], truth["A1"].to_numpy())
    theirs = plink2_score(
        made.dir / "cohort",
        truth.with_columns(A1=pl.Series(counted)),
        tmp_path / "amb",
        mean_impute=made.mean_impute,
    )
    compare(result.scores, theirs, "keep_ambiguous")


def test_mean_imputation_counts_founders_only_like_plink2(tmp_path: Path) -> None:
    spec = syn.CohortSpec(n_samples=120, n_variants=600, seed=503, missing_rate=0.05)
    variants = syn.write_pfile(tmp_path / "cohort", spec)
    ids = syn.sample_ids(spec)
    plain_psam = (tmp_path / "cohort.psam").read_bytes()
    # the second half are children of the first two samples: plink2 counts allele frequencies
    # over the founders only, and so must we
    pl.DataFrame(
        {
            "#FID": ids,
            "IID": ids,
            "PAT": ["0"] * 60 + [ids[0]] * 60,
            "MAT": ["0"] * 60 + [ids[1]] * 60,
            "SEX": ["NA"] * 120,
        }
    ).write_csv(tmp_path / "cohort.psam", separator="\t")
    run("--pfile", str(tmp_path / "cohort"), "--make-bed", "--out", str(tmp_path / "cohort"))
    ((scorefile, rows),) = syn.write_score_set(
        tmp_path / "scores", variants, [syn.ScoreSpec(300, pgs_id="PGS999931", seed=31)]
    )
    theirs = plink2_score(
        tmp_path / "cohort",
        truth_rows(variants, rows, rows.matchable()),
        tmp_path / "plink2",
        mean_impute=True,
    )
    for fmt in ("pfile", "bfile"):
        target = GenotypeFile.from_prefix(fmt, tmp_path / "cohort")  # type: ignore[arg-type]
        result = calculate(
            [scorefile], [Sampleset("s", [target])], CalcOptions("GRCh37"), tmp_path / fmt
        )
        compare(result.scores, theirs, fmt)

    # the pedigree makes a difference here: without it, every sample counts
    for suffix in (".pgen", ".pvar"):
        (tmp_path / f"flat{suffix}").write_bytes((tmp_path / f"cohort{suffix}").read_bytes())
    (tmp_path / "flat.psam").write_bytes(plain_psam)
    flat = calculate(
        [scorefile],
        [Sampleset("s", [GenotypeFile.from_prefix("pfile", tmp_path / "flat")])],
        CalcOptions("GRCh37"),
        tmp_path / "flat-out",
    )
    with pytest.raises(AssertionError):
        compare(flat.scores, theirs, "without pedigree")
