"""``vatti pgs score --ancestry`` end to end on the shared tiny1000G data: the panel is
4/5 of its 3,202 samples with their 1000G super-population labels and relatedness list, the
target the other fifth without labels and without a tenth of the scored variants; the score is
a seeded random one on 600 of its variants."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from vatti.pipelines.pgs.ancestry.genotypes import read_genotypes
from vatti.pipelines.pgs.ancestry.panel import project_target, shared_variants
from vatti.pipelines.pgs.ancestry.projection import reference_pca
from vatti.pipelines.pgs.ancestry.report_section import MAX_POINTS
from vatti.pipelines.pgs.targets.base import GenotypeFile, Sampleset, read_variants
from vatti.testing.services import plink2_path, shared_pgs_data

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.plink2]

CALC = "pygscatalog/pgscatalog.utils/packages/pgscatalog.calc/tests"
PGS_COLUMNS = [
    "sampleset", "FID", "IID", "PGS", "SUM",
    "Z_MostSimilarPop", "Z_norm1", "Z_norm2", "percentile_MostSimilarPop",
]  # fmt: skip
POPS = ["AFR", "AMR", "EAS", "EUR", "SAS"]
POPSIM_COLUMNS = [
    "sampleset", "FID", "IID", *[f"PC{k}" for k in range(1, 11)], "Unrelated",
    *[f"RF_P_{p}" for p in POPS], "MostSimilarPop", "MostSimilarPop_LowConfidence",
    "REFERENCE", "SuperPop",
]  # fmt: skip


def _plink2(*args: str) -> None:
    subprocess.run([plink2_path(), "--threads", "1", *args], check=True, capture_output=True)


def _table(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, separator="\t", infer_schema=False)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ancestry")
    data = shared_pgs_data() / CALC
    _plink2("--vcf", str(data / "data/vcf/tiny1000G.vcf.gz"), "--autosome",
            "--set-all-var-ids", "@:#:$r:$a", "--make-pgen", "--out", str(out / "all"))  # fmt: skip
    iids = [line.split()[0] for line in (out / "all.psam").read_text().splitlines()[1:]]
    target = iids[4::5]
    (out / "target.keep").write_text("#IID\n" + "".join(f"{i}\n" for i in target))
    variants = [
        line.split("\t")
        for line in (out / "all.pvar").read_text().splitlines()
        if not line.startswith("#")
    ]
    rng = random.Random(7)
    scored = sorted(rng.sample(variants, 600), key=lambda v: (int(v[0]), int(v[1])))
    (out / "dropped.txt").write_text("".join(f"{v[2]}\n" for v in scored[::10]))
    _plink2("--pfile", str(out / "all"), "--keep", str(out / "target.keep"), "--exclude",
            str(out / "dropped.txt"), "--make-pgen", "--out", str(out / "target"))  # fmt: skip
    _plink2("--pfile", str(out / "all"), "--remove", str(out / "target.keep"),
            "--make-pgen", "--out", str(out / "panel"))  # fmt: skip
    labels = {
        line.split("\t")[0]: line
        for line in (data / "legacy/data/ref.psam").read_text().splitlines()
    }
    panel = [line.split()[0] for line in (out / "panel.psam").read_text().splitlines()[1:]]
    (out / "panel.psam").write_text("\n".join([labels["#IID"], *(labels[i] for i in panel)]) + "\n")
    related = (data / "legacy/data/ref.king.cutoff.id").read_text()
    (out / "panel.king.cutoff.out.id").write_text(related)
    lines = ["#pgs_id=PGS900001", "#trait_reported=test", "#genome_build=GRCh38",
             "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight"]  # fmt: skip
    for chrom, pos, _, ref, alt in (v[:5] for v in scored):
        effect, other = (alt, ref) if rng.random() < 0.5 else (ref, alt)
        lines.append(f"{chrom}\t{pos}\t{effect}\t{other}\t{rng.gauss(0, 0.05):.6f}")
    (out / "score.txt").write_text("\n".join(lines) + "\n")
    return out


def _run(inputs: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "vatti", "pgs", "score", "--scores", str(inputs / "score.txt"),
            "--build", "GRCh38", "--out", str(out), *extra]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def ancestry_run(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ancestry-run")
    done = _run(inputs, out, "--target", str(inputs / "target"), "--ancestry",
                str(inputs / "panel"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_ancestry_run_writes_pgsc_calcs_normalised_scores(inputs: Path, ancestry_run: Path) -> None:
    tmp_path = ancestry_run
    pgs = _table(tmp_path / "cohort_pgs.txt.gz")
    popsim = _table(tmp_path / "cohort_popsimilarity.txt.gz")
    assert pgs.columns == PGS_COLUMNS
    assert popsim.columns == POPSIM_COLUMNS

    # both are scored on the variants they share: the target's missing tenth is not scored in
    # the panel either
    summary = _table(tmp_path / "match_summary.tsv")
    matched = dict(zip(summary["sampleset"], summary["n_matched"].cast(int), strict=True))
    assert matched["cohort"] == matched["reference"] <= 540

    # the targets are found most similar to the population they come from
    truth = _table(shared_pgs_data() / CALC / "legacy/data/ref.psam").select(
        pl.col("#IID").alias("IID"), pl.col("SuperPop").alias("truth")
    )
    targets = popsim.filter(pl.col("sampleset") == "cohort").join(truth, on="IID")
    assert targets.height == 640
    assert (targets["MostSimilarPop"] == targets["truth"]).mean() >= 0.95

    # the related panel samples are not in the PCA; the normalised reference has sd 1
    reference = pgs.filter(pl.col("sampleset") == "reference")
    related = set((inputs / "panel.king.cutoff.out.id").read_text().split())
    panel = set(_table(inputs / "panel.psam")["#IID"].to_list())
    assert not related & set(reference["IID"].to_list())
    assert 0.9 * len(panel - related) <= reference.height <= len(panel - related)
    z1 = reference["Z_norm1"].cast(pl.Float64).to_numpy()
    assert np.std(z1) == pytest.approx(1.0, abs=1e-6)
    sums = _table(tmp_path / "aggregated_scores.txt.gz").filter(pl.col("sampleset") == "cohort")
    assert sums.height == 640


def test_the_report_shows_the_ancestry_analysis(ancestry_run: Path) -> None:
    page = (ancestry_run / "report.html").read_text()
    section = re.search(r'<section id="genetic-ancestry">(.*?)</section>', page, re.S)
    assert section is not None, "an ancestry run's report has its section"
    popsim = _table(ancestry_run / "cohort_popsimilarity.txt.gz")
    targets = popsim.filter(pl.col("sampleset") == "cohort")
    expected = {
        pop: (group.height, (group["MostSimilarPop_LowConfidence"] == "True").sum())
        for (pop,), group in targets.group_by("MostSimilarPop")
    }
    shown = {
        pop: (int(n), int(low))
        for pop, n, low in re.findall(
            r'<tr data-population="(\w+)">.*?data-col="samples">(\d+)<.*?'
            r'data-col="low_confidence">(\d+)<',
            section[1],
        )
    }
    assert shown == expected
    assert set(shown) <= set(POPS)
    # both PC plots: the panel's samples by super-population, the 640 targets on top
    figures = re.findall(r'<figure class="pca" data-pcs="(PC\d,PC\d)">(.*?)</figure>', section[1])
    assert [pcs for pcs, _ in figures] == ["PC1,PC2", "PC3,PC4"]
    n_ref = popsim.filter(pl.col("sampleset") == "reference").height
    for _, figure in figures:
        assert figure.count('class="emphasised"') == 640
        drawn = min(n_ref, MAX_POINTS)
        assert figure.count("<circle cx=") == drawn + len(POPS) + 1  # and the legend
        assert (f"({drawn} of {n_ref} drawn)" in figure) == (drawn < n_ref)
    assert "variant_filter" not in page
    assert '<td data-key="ancestry panel">panel.pgen</td>' in page
    # imputed from the QC'd panel's frequencies, not from a file the user gave
    assert '<td data-key="reference_freqs">the QC&#x27;d panel&#x27;s</td>' in page


def test_bad_ancestry_inputs_are_refused_with_a_reason(inputs: Path, tmp_path: Path) -> None:
    target = ["--target", str(inputs / "target")]
    cases = [
        (["--ancestry", str(inputs / "panel"), "--ref-label", "Continent"], "'Continent'"),
        (["--ancestry", str(inputs / "panel"), "--ancestry-method", "knn"], "not an ancestry"),
        (["--ancestry", str(inputs / "panel"), "--sampleset", "reference"], "'reference'"),
        (["--ancestry", str(inputs / "panel"), "--ancestry-related", str(tmp_path / "no")],
         "no such file"),
    ]  # fmt: skip
    for k, (extra, reason) in enumerate(cases):
        done = _run(inputs, tmp_path / str(k), *target, *extra)
        assert done.returncode != 0, extra
        assert reason in done.stderr, (extra, done.stderr)


def test_targets_projected_in_chunks_get_the_same_pcs(inputs: Path) -> None:
    """A large target is projected a chunk of samples at a time (one pass over its files per
    chunk): the chunks do not change a sample's PCs."""
    target = Sampleset("cohort", [GenotypeFile.from_prefix("pfile", inputs / "target")])
    panel = GenotypeFile.from_prefix("pfile", inputs / "panel")
    shared = shared_variants(read_variants(target), read_variants(Sampleset("reference", [panel])))
    ref = read_genotypes(
        panel,
        shared["r_variant_idx"].to_numpy().astype(np.uint32),
        np.ones(shared.height, dtype=np.uint8),
        slice(0, 400),  # a small panel: the projection's cost grows with it
    )
    pca = reference_pca(ref.values, ref.missing, dim_ref=10)
    whole = project_target(target, shared, pca)
    assert whole.height == 640
    assert project_target(target, shared, pca, chunk=97).equals(whole)
