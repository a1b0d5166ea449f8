"""Synthetic cohorts scored by us and by plink2 ``--score`` live, on the same matched variants.

The cohort is drawn from a seeded generator and written as VCF text; plink2 converts it to a
.pgen. It has missing and half-missing calls, multiallelic sites, effect alleles that are the REF
(swapped), the second ALT, and dominant and recessive scores. Each score is run through plink2
on its own (a variant may carry another allele in another score), ours all in one pass.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from vatti.pipelines.pgs.streaming import ScoringOptions, score_samplesets
from vatti.pipelines.pgs.targets import GenotypeFile, Sampleset, read_variants
from vatti.testing.services import plink2_path

pytestmark = [pytest.mark.integration, pytest.mark.plink2]

BASES = np.array(list("ACGT"))
SCORES = {"S_add": "additive", "S_add2": "additive", "S_dom": "dominant", "S_rec": "recessive"}


@dataclass(frozen=True)
class Cohort:
    vcf: Path
    n_alleles: np.ndarray
    n_samples: int


def write_cohort(path: Path, *, n_samples: int, n_variants: int, seed: int, dosage: bool) -> Cohort:
    rng = np.random.default_rng(seed)
    n_alleles = np.where(rng.random(n_variants) < (0.0 if dosage else 0.15), 3, 2)
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DS,Number=A,Type=Float,Description="Dosage">',
        "\t".join(
            ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
            + [f"s{i:04d}" for i in range(n_samples)]
        ),
    ]
    for v in range(n_variants):
        alleles = rng.permutation(BASES)[: n_alleles[v]]
        freqs = rng.dirichlet(np.ones(n_alleles[v]) * 0.7)
        calls = rng.choice(n_alleles[v], size=(n_samples, 2), p=freqs)
        cells = [f"{a}/{b}" for a, b in calls]
        roll = rng.random(n_samples)
        for i in np.flatnonzero(roll < 0.04):
            cells[i] = "./." if roll[i] < 0.03 else f"./{calls[i, 1]}"
        if dosage:
            ds = np.clip(calls.sum(axis=1) + rng.normal(0, 0.2, n_samples), 0, 2)
            cells = [
                f"{c}:{d:.3f}" if not c.startswith(".") or rng.random() < 0.5 else f"{c}:."
                for c, d in zip(cells, ds, strict=True)
            ]
        fixed = [
            "1",
            str(1000 + 10 * v),
            f"v{v}",
            alleles[0],
            ",".join(alleles[1:]),
            ".",
            ".",
            ".",
            "GT:DS" if dosage else "GT",
        ]
        lines.append("\t".join(fixed + cells))
    path.write_text("\n".join(lines) + "\n")
    return Cohort(path, n_alleles, n_samples)


def make_matched(cohort: Cohort, variants: pl.DataFrame, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = variants.height
    frames = []
    for k, (name, effect) in enumerate(SCORES.items()):
        size = n * 3 // 4 if k < 2 else n // 4
        pick = np.sort(rng.choice(n, size=size, replace=False))
        allele = rng.integers(0, cohort.n_alleles[pick])  # 0 = REF: the swapped case
        weight = np.round(rng.normal(0, 0.2, size), 6)
        frames.append(
            pl.DataFrame(
                {
                    "accession": name,
                    "file_idx": np.zeros(size, dtype=np.uint32),
                    "variant_idx": pick.astype(np.uint32),
                    "allele_idx": allele.astype(np.uint8),
                    "effect_weight": weight,
                    "effect_type": effect,
                }
            )
        )
    return pl.concat(frames)


def run_plink2(
    pfile: Path, matched: pl.DataFrame, variants: pl.DataFrame, no_mean_imputation: bool
) -> dict[str, pl.DataFrame]:
    out: dict[str, pl.DataFrame] = {}
    alleles = variants.select(
        "variant_idx", "id", allele_list=pl.concat_list("ref", pl.col("alt").str.split(","))
    )
    for name, effect in SCORES.items():
        rows = matched.filter(pl.col("accession") == name).join(alleles, on="variant_idx")
        score = pfile.parent / f"{name}.txt"
        rows.select(
            "id",
            pl.col("allele_list").list.get(pl.col("allele_idx").cast(pl.Int64)),
            "effect_weight",
        ).write_csv(score, separator="\t", include_header=False)
        modifiers = [] if effect == "additive" else [effect]
        if no_mean_imputation:
            modifiers.append("no-mean-imputation")
        subprocess.run(
            [plink2_path(), "--pfile", str(pfile), "--score", str(score), "1", "2", "3",
             *modifiers, "cols=+scoresums", "--out", str(pfile.parent / name)],
            check=True, capture_output=True,
        )  # fmt: skip
        out[name] = pl.read_csv(pfile.parent / f"{name}.sscore", separator="\t")
    return out


def assert_agree(ours: pl.DataFrame, theirs: dict[str, pl.DataFrame]) -> None:
    for name, expected in theirs.items():
        got = ours.filter(pl.col("PGS") == name)
        assert got["IID"].to_list() == expected["#IID"].to_list()
        scale = float(np.abs(expected["SCORE1_SUM"].to_numpy()).max())
        np.testing.assert_allclose(
            got["SUM"], expected["SCORE1_SUM"], rtol=1e-5, atol=1e-6 * scale, err_msg=name
        )
        assert got["ALLELE_CT"].to_list() == expected["ALLELE_CT"].to_list(), name
        denom = expected["SCORE1_SUM"] / expected["SCORE1_AVG"]
        np.testing.assert_allclose(got["DENOM"], denom.fill_nan(None), rtol=1e-4, err_msg=name)


def _convert(vcf: Path, prefix: Path, *extra: str) -> None:
    subprocess.run(
        [plink2_path(), "--vcf", str(vcf), *extra, "--vcf-half-call", "missing",
         "--make-pgen", "--out", str(prefix)],
        check=True, capture_output=True,
    )  # fmt: skip


@pytest.mark.parametrize("no_mean_imputation", [False, True], ids=["mean-imp", "no-mean-imp"])
@pytest.mark.parametrize("fmt", ["pfile", "vcf"])
def test_genotypes_agree_with_plink2(tmp_path: Path, fmt: str, no_mean_imputation: bool) -> None:
    cohort = write_cohort(tmp_path / "c.vcf", n_samples=150, n_variants=400, seed=11, dosage=False)
    _convert(cohort.vcf, tmp_path / "c")
    file = (
        GenotypeFile.from_prefix("pfile", tmp_path / "c")
        if fmt == "pfile"
        else GenotypeFile.from_prefix("vcf", cohort.vcf)
    )
    sampleset = Sampleset("synthetic", [file])
    variants = read_variants(sampleset)
    assert (variants["alt"].str.contains(",")).sum() > 20
    matched = make_matched(cohort, variants, seed=5)
    options = ScoringOptions(block_size=64, mean_impute=not no_mean_imputation)
    ours = score_samplesets([sampleset], matched, options)
    theirs = run_plink2(tmp_path / "c", matched, variants, no_mean_imputation)
    assert_agree(ours, theirs)


@pytest.mark.parametrize("fmt", ["pfile", "vcf"])
def test_vcf_dosages_agree_with_plink2(tmp_path: Path, fmt: str) -> None:
    cohort = write_cohort(tmp_path / "d.vcf", n_samples=80, n_variants=300, seed=12, dosage=True)
    _convert(cohort.vcf, tmp_path / "d", "dosage=DS")
    file = (
        GenotypeFile.from_prefix("pfile", tmp_path / "d")
        if fmt == "pfile"
        else GenotypeFile.from_prefix("vcf", cohort.vcf)
    )
    sampleset = Sampleset("dosage", [file])
    variants = read_variants(sampleset)
    matched = make_matched(cohort, variants, seed=6)
    ours = score_samplesets([sampleset], matched, ScoringOptions(block_size=50, use_dosage=True))
    theirs = run_plink2(tmp_path / "d", matched, variants, no_mean_imputation=False)
    assert_agree(ours, theirs)
    # the dosages matter: scoring the hard calls gives other sums
    hard = score_samplesets([sampleset], matched, ScoringOptions(use_dosage=False))
    if fmt == "vcf":
        assert not np.allclose(hard["SUM"], ours["SUM"], rtol=1e-3)
