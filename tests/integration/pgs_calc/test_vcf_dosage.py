"""VCF ``DS`` dosages through :func:`calculate` (``use_dosage``) and ``vatti pgs score
--use-dosage``, against plink2 ``--vcf ... dosage=DS`` then ``--score``.

The VCF is written here: biallelic SNPs with GT and DS, some calls missing in both, some with a
GT but no DS (``.``: plink2 then counts the GT), some a DS but no GT (the DS counts).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from vatti.pipelines.pgs.orchestration import CalcOptions, calculate
from vatti.pipelines.pgs.targets import GenotypeFile, Sampleset
from vatti.testing.services import plink2_path

pytestmark = [pytest.mark.integration, pytest.mark.plink2]

PAIRS = [("A", "C"), ("C", "T"), ("G", "A"), ("T", "G"), ("A", "G"), ("C", "A")]


def write_dosage_vcf(path: Path, n_samples: int, n_sites: int, seed: int) -> pl.DataFrame:
    """The VCF, and one scoring row per site (effect REF or ALT)."""
    rng = np.random.default_rng(seed)
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=22>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DS,Number=A,Type=Float,Description="Dosage">',
        "\t".join(
            ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
            + [f"d{i:03d}" for i in range(n_samples)]
        ),
    ]
    rows = []
    for v in range(n_sites):
        ref, alt = PAIRS[v % len(PAIRS)]
        freq = rng.uniform(0.05, 0.6)
        gt = rng.binomial(1, freq, size=(n_samples, 2))
        ds = np.clip(gt.sum(axis=1) + rng.normal(0, 0.25, n_samples), 0, 2)
        cells = [f"{a}/{b}:{d:.3f}" for (a, b), d in zip(gt, ds, strict=True)]
        roll = rng.random(n_samples)
        for i in np.flatnonzero(roll < 0.02):  # no call at all
            cells[i] = "./.:."
        for i in np.flatnonzero((roll >= 0.02) & (roll < 0.035)):  # DS without GT: DS counts
            cells[i] = f"./.:{ds[i]:.3f}"
        for i in np.flatnonzero((roll >= 0.035) & (roll < 0.05)):  # GT without DS: GT counts
            cells[i] = f"{gt[i, 0]}/{gt[i, 1]}:."
        pos = 30_000_000 + 50 * v
        fixed = ["22", str(pos), f"d{v}", ref, alt, ".", ".", ".", "GT:DS"]
        lines.append("\t".join(fixed + cells))
        swapped = rng.random() < 0.4
        effect, other = (ref, alt) if swapped else (alt, ref)
        rows.append((pos, f"d{v}", effect, other, round(float(rng.normal(0, 0.2)), 6)))
    path.write_text("\n".join(lines) + "\n")
    return pl.DataFrame(rows, schema=["pos", "ID", "effect", "other", "weight"], orient="row")


def write_scorefile(path: Path, frame: pl.DataFrame) -> None:
    header = "#pgs_id=PGS999951\n#trait_reported=t\n#genome_build=GRCh37\n"
    body = frame.select(
        chr_name=pl.lit("22"),
        chr_position="pos",
        effect_allele="effect",
        other_allele="other",
        effect_weight="weight",
    ).write_csv(separator="\t")
    path.write_text(header + body)


def plink2_scores(tmp_path: Path, frame: pl.DataFrame, *, mean_impute: bool) -> pl.DataFrame:
    plink2 = plink2_path()
    vcf, prefix = tmp_path / "d.vcf", tmp_path / "d"
    subprocess.run(
        [plink2, "--vcf", str(vcf), "dosage=DS", "--make-pgen", "--out", str(prefix)],
        check=True, capture_output=True,
    )  # fmt: skip
    frame.select("ID", A1="effect", WEIGHT="weight").write_csv(tmp_path / "w.tsv", separator="\t")
    extra = [] if mean_impute else ["no-mean-imputation"]
    subprocess.run(
        [plink2, "--pfile", str(prefix), "--score", str(tmp_path / "w.tsv"), "1", "2", "3",
         "header-read", *extra, "cols=+scoresums,+denom", "--out", str(tmp_path / "p")],
        check=True, capture_output=True,
    )  # fmt: skip
    sscore = pl.read_csv(tmp_path / "p.sscore", separator="\t")
    return sscore.select(
        pl.col("#IID").alias("IID"), pl.col("WEIGHT_SUM").alias("SUM"), "DENOM", "ALLELE_CT"
    )


@pytest.mark.parametrize("n_samples", [70, 30], ids=["mean-imp", "no-mean-imp"])
def test_vcf_dosages_agree_with_plink2(tmp_path: Path, n_samples: int) -> None:
    frame = write_dosage_vcf(tmp_path / "d.vcf", n_samples, 120, seed=n_samples)
    write_scorefile(tmp_path / "score.txt", frame)
    target = Sampleset("d", [GenotypeFile.from_prefix("vcf", tmp_path / "d.vcf")])
    result = calculate(
        [tmp_path / "score.txt"], [target], CalcOptions("GRCh37", use_dosage=True), tmp_path / "o"
    )
    theirs = plink2_scores(tmp_path, frame, mean_impute=n_samples >= 50)
    ours = result.scores
    assert ours["IID"].to_list() == theirs["IID"].to_list()
    np.testing.assert_allclose(ours["SUM"], theirs["SUM"], rtol=1e-5, atol=1e-9)
    assert ours["DENOM"].to_list() == theirs["DENOM"].to_list()
    assert ours["ALLELE_CT"].to_list() == theirs["ALLELE_CT"].to_list()
    hard = calculate([tmp_path / "score.txt"], [target], CalcOptions("GRCh37"), tmp_path / "h")
    assert not np.allclose(hard.scores["SUM"], ours["SUM"], rtol=1e-3)


@pytest.mark.e2e
def test_cli_use_dosage(tmp_path: Path) -> None:
    frame = write_dosage_vcf(tmp_path / "d.vcf", 60, 60, seed=5)
    write_scorefile(tmp_path / "score.txt", frame)
    args = [sys.executable, "-m", "vatti", "pgs", "score", "--scores", str(tmp_path / "score.txt")]
    args += ["--target", str(tmp_path / "d.vcf"), "--build", "GRCh37", "--use-dosage"]
    args += ["--out", str(tmp_path / "out")]
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ}, timeout=120)
    assert done.returncode == 0, done.stderr
    ours = pl.read_csv(tmp_path / "out/aggregated_scores.txt.gz", separator="\t")
    theirs = plink2_scores(tmp_path, frame, mean_impute=True)
    # the file holds 6 significant digits, as plink2 prints them
    np.testing.assert_allclose(ours["SUM"], theirs["SUM"], rtol=1e-5, atol=1e-9)
    assert ours["DENOM"].to_list() == theirs["DENOM"].to_list()


def dosage_only(vcf: Path, out: Path) -> None:
    """``vcf`` with its GT removed from every call: the records carry DS alone."""
    lines = []
    for line in vcf.read_text().splitlines():
        if line.startswith("##FORMAT=<ID=GT"):
            continue
        if line.startswith("#"):
            lines.append(line)
            continue
        fields = line.split("\t")
        fields[8] = "DS"
        fields[9:] = [cell.split(":")[1] for cell in fields[9:]]
        lines.append("\t".join(fields))
    out.write_text("\n".join(lines) + "\n")


def vcf_row(sampleset: str, path: str, **extra: object) -> dict[str, object]:
    return {"sampleset": sampleset, "geno": path, "pheno": path, "variants": path} | {
        "format": "vcf",
        **extra,
    }


def test_pgs_job_honours_vcf_import_dosage_per_sampleset(tmp_path: Path) -> None:
    """hattivatti's per-row ``vcf_import_dosage`` reads DS for that sampleset only: on a VCF
    holding DS alone the flagged sampleset gets plink2's ``dosage=DS`` scores, the other one
    (same file, flag off) has no calls, as plink2 imports it without ``dosage=DS``."""
    import logging

    from vatti.pipelines.base import JobSettings, RunContext
    from vatti.pipelines.pgs.params import PgsParams
    from vatti.pipelines.pgs.pipeline import PgsPipeline
    from vatti.runtime.execute import run_pipeline

    frame = write_dosage_vcf(tmp_path / "d.vcf", 60, 80, seed=11)
    root = tmp_path / "inputs"
    root.mkdir()
    dosage_only(tmp_path / "d.vcf", root / "ds.vcf")
    write_scorefile(root / "score.txt", frame)
    params = PgsParams.model_validate(
        {
            "target_genomes": [
                vcf_row("dosed", "ds.vcf", vcf_import_dosage=True),
                vcf_row("called", "ds.vcf"),
            ],
            "scorefiles": ["score.txt"],
            "target_build": "GRCh37",
        }
    )
    ctx = RunContext(
        job_id="job-1",
        work_dir=tmp_path / "work",
        output_dir=tmp_path / "out",
        log=logging.LoggerAdapter(logging.getLogger("test.pgs"), {}),
        settings=JobSettings(input_root=root),
    )
    run_pipeline(PgsPipeline(), params, ctx, inputs_dir=tmp_path / "staged")
    scores = pl.read_csv(ctx.output_dir / "aggregated_scores.txt.gz", separator="\t")
    dosed = scores.filter(pl.col("sampleset") == "dosed")
    called = scores.filter(pl.col("sampleset") == "called")
    subprocess.run(
        [plink2_path(), "--vcf", str(root / "ds.vcf"), "dosage=DS", "--make-pgen",
         "--out", str(tmp_path / "ds")],
        check=True, capture_output=True,
    )  # fmt: skip
    frame.select("ID", A1="effect", WEIGHT="weight").write_csv(tmp_path / "w.tsv", separator="\t")
    subprocess.run(
        [plink2_path(), "--pfile", str(tmp_path / "ds"), "--score", str(tmp_path / "w.tsv"),
         "1", "2", "3", "header-read", "cols=+scoresums,+denom", "--out", str(tmp_path / "q")],
        check=True, capture_output=True,
    )  # fmt: skip
    plink_ds = pl.read_csv(tmp_path / "q.sscore", separator="\t")
    assert dosed["IID"].to_list() == plink_ds["#IID"].to_list()
    np.testing.assert_allclose(dosed["SUM"], plink_ds["WEIGHT_SUM"], rtol=1e-5, atol=1e-9)
    assert dosed["DENOM"].to_list() == plink_ds["DENOM"].to_list()
    assert (dosed["SUM"].abs() > 0).all()
    assert (called["SUM"] == 0.0).all()  # no GT: no calls, as plink2 without dosage=DS


@pytest.mark.parametrize("fmt", ["pfile", "bfile"])
def test_vcf_import_dosage_on_plink_files_is_refused(fmt: str) -> None:
    from pydantic import ValidationError

    from vatti.pipelines.pgs.params import PgsParams

    suffixes = {"pfile": (".pgen", ".psam", ".pvar"), "bfile": (".bed", ".fam", ".bim")}[fmt]
    row = dict(zip(("geno", "pheno", "variants"), (f"c{s}" for s in suffixes), strict=True))
    request = {
        "target_genomes": [{"sampleset": "c", "format": fmt, "vcf_import_dosage": True, **row}],
        "pgs_id": "PGS000001",
        "target_build": "GRCh37",
    }
    with pytest.raises(ValidationError, match="vcf_import_dosage applies to format 'vcf' only"):
        PgsParams.model_validate(request)
