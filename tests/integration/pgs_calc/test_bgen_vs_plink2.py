"""BGEN targets against plink2's own BGEN import and scoring, on the shared tiny1000G fixtures
(3,202 samples, ~1,000 GRCh38 variants with chrX; phased, unphased, and unphased with missing
calls; zlib-compressed layout 2, 8-bit probabilities, as pgsc_calc's zarr engine tests use them).

A PGS Catalog scoring file is written from plink2's import of each file (its ``.pvar``, not our
reader), over a random half of the unambiguous sites, effect allele REF or ALT at random; it is
scored by ``vatti pgs score --target x.bgen`` and by ``plink2 --bgen x.bgen ref-first --score``.
Agreement asked: SUM within a relative 1e-5 (plink2 prints 6 significant digits), DENOM exactly,
per sample. The dosages themselves are compared with those of the ``.pgen`` plink2 writes, exactly.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from vatti.cli import app
from vatti.pipelines.base import JobSettings, RunContext
from vatti.pipelines.pgs.orchestration import SCORES_NAME
from vatti.pipelines.pgs.params import PgsParams
from vatti.pipelines.pgs.pipeline import PgsPipeline
from vatti.pipelines.pgs.targets import GenotypeFile, open_reader
from vatti.runtime.execute import run_pipeline
from vatti.testing.services import plink2_path, shared_pgs_data

pytestmark = [pytest.mark.integration, pytest.mark.plink2]

BGEN_DIR = "pygscatalog/pgscatalog.utils/packages/pgscatalog.calc/tests/data/bgen"
#: fixture -> (the .bgen, its .sample or None: the ids the .bgen stores)
FIXTURES = {
    "phased": ("phased/tiny1000G.bgen", "phased/tiny1000G.sample"),
    "unphased": ("unphased/tiny1000G.bgen", None),
    "missing": ("unphased/missing/missing.bgen", "unphased/missing/missing.sample"),
}
RTOL = 1e-5
_AMBIGUOUS = {("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")}


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The fixture's paths and plink2's import of it (a PLINK 2 fileset)."""
    base = shared_pgs_data() / BGEN_DIR
    bgen_name, sample_name = FIXTURES[request.param]
    work = tmp_path_factory.mktemp(f"bgen-{request.param}")
    bgen = base / bgen_name
    sample = None if sample_name is None else base / sample_name
    source = ["--bgen", str(bgen), "ref-first"]
    if sample is not None:
        source += ["--sample", str(sample)]
    plink2(*source, "--make-pgen", "--out", str(work / "imported"))
    return {"bgen": bgen, "sample": sample, "source": source, "work": work}


def plink2(*args: str) -> None:
    subprocess.run([plink2_path(), "--threads", "1", *args], check=True, capture_output=True)


def dosages(file: GenotypeFile) -> np.ndarray:
    """Copies of ALT, variants x samples, NaN for missing calls."""
    with open_reader(file) as reader:
        n = reader.read_variants().height
        idx = np.arange(n, dtype=np.uint32)
        parts = []
        for block in reader.dosage_blocks(idx, np.ones(n, dtype=np.uint8), 128):
            values = block.values.copy()
            values.reshape(-1)[block.missing] = np.nan
            parts.append(values)
    return np.vstack(parts)


def test_dosages_equal_plink2_import(fixture: dict) -> None:
    ours = dosages(GenotypeFile.from_prefix("bgen", fixture["bgen"].with_suffix("")))
    theirs = dosages(GenotypeFile.from_prefix("pfile", fixture["work"] / "imported"))
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(np.nan_to_num(ours), np.nan_to_num(theirs))
    if fixture["bgen"].name == "missing.bgen":
        assert np.isnan(ours).sum() > 100_000, "the fixture's missing calls must be seen"


def score_rows(pvar: Path, seed: int) -> pl.DataFrame:
    """A random half of the unambiguous, single-position biallelic sites, effect allele REF or
    ALT at random, and a weight each."""
    sites = pl.read_csv(pvar, separator="\t", comment_prefix="##", infer_schema=False).rename(
        {"#CHROM": "CHROM"}
    )
    sites = sites.filter(
        ~pl.struct("REF", "ALT").map_elements(
            lambda s: (s["REF"], s["ALT"]) in _AMBIGUOUS, return_dtype=pl.Boolean
        )
        & pl.struct("CHROM", "POS").is_unique()
        & ~pl.col("ALT").str.contains(",")
    )
    rng = np.random.default_rng(seed)
    chosen = sites.filter(pl.Series(rng.random(sites.height) < 0.5))
    effect_is_alt = pl.Series(rng.random(chosen.height) < 0.7)
    return chosen.with_columns(
        effect=pl.when(effect_is_alt).then(pl.col("ALT")).otherwise(pl.col("REF")),
        other=pl.when(effect_is_alt).then(pl.col("REF")).otherwise(pl.col("ALT")),
        weight=pl.Series(np.round(rng.normal(0, 0.1, chosen.height), 6)),
    )


def write_scorefile(path: Path, rows: pl.DataFrame) -> None:
    body = rows.select(
        chr_name=pl.col("CHROM"),
        chr_position=pl.col("POS"),  # text as plink2 wrote it
        effect_allele=pl.col("effect"),
        other_allele=pl.col("other"),
        effect_weight=pl.col("weight"),
    )
    path.write_text("#pgs_id=PGS999941\n#genome_build=GRCh38\n" + body.write_csv(separator="\t"))


def test_scores_equal_plink2_bgen_scoring(fixture: dict) -> None:
    work: Path = fixture["work"]
    rows = score_rows(work / "imported.pvar", seed=41)
    assert rows.height > 300
    write_scorefile(work / "PGS999941.txt", rows)
    rows.select("ID", "effect", "weight").write_csv(work / "plink2.score", separator="\t")
    plink2(
        *fixture["source"], "--score", str(work / "plink2.score"), "1", "2", "3", "header-read",
        "cols=+scoresums,+denom", "list-variants", "--out", str(work / "plink2"),
    )  # fmt: skip
    theirs = pl.read_csv(work / "plink2.sscore", separator="\t").select(
        pl.col("#IID").cast(pl.Utf8).alias("IID"), pl.col("weight_SUM").alias("SUM_plink2"), "DENOM"
    )
    used = (work / "plink2.sscore.vars").read_text().split()
    assert len(used) == rows.height

    out = work / "ours"
    target = fixture["bgen"] if fixture["sample"] is None else fixture["bgen"].with_suffix("")
    result = CliRunner().invoke(
        app,
        ["pgs", "score", "--target", str(target), "--scores", str(work / "PGS999941.txt"),
         "--build", "GRCh38", "--out", str(out), "--sampleset", "tiny"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ours = pl.read_csv(out / SCORES_NAME, separator="\t", schema_overrides={"IID": pl.Utf8})
    summary = pl.read_csv(out / "match_summary.tsv", separator="\t")
    assert summary["n_matched"].to_list() == [rows.height]
    both = ours.join(theirs, on="IID", how="inner", suffix="_plink2")
    assert both.height == theirs.height == 3202
    np.testing.assert_allclose(both["SUM"], both["SUM_plink2"], rtol=RTOL, atol=1e-9)
    assert (both["DENOM"] == both["DENOM_plink2"]).all()
    assert both["SUM"].std() > 0.05, "a score that does not vary tests nothing"


def test_the_pgs_job_reads_a_bgen_target_as_the_cli_does(fixture: dict, tmp_path: Path) -> None:
    """A job's target_genomes row of format bgen (geno and variants the .bgen, pheno its
    .sample or the .bgen) scores the same as ``vatti pgs score --target``."""
    root = tmp_path / "inputs"
    root.mkdir()
    shutil.copy(fixture["bgen"], root / "cohort.bgen")
    pheno = "cohort.bgen"
    if fixture["sample"] is not None:
        shutil.copy(fixture["sample"], root / "cohort.sample")
        pheno = "cohort.sample"
    rows = score_rows(fixture["work"] / "imported.pvar", seed=43)
    write_scorefile(root / "PGS999941.txt", rows)
    params = PgsParams.model_validate(
        {
            "target_genomes": [
                {"sampleset": "tiny", "geno": "cohort.bgen", "variants": "cohort.bgen",
                 "pheno": pheno, "format": "bgen"}
            ],
            "scorefiles": ["PGS999941.txt"],
            "target_build": "GRCh38",
        }
    )  # fmt: skip
    log = logging.LoggerAdapter(logging.getLogger("test.pgs"), {})
    ctx = RunContext("job-1", tmp_path / "work", tmp_path / "job", log, JobSettings(root))
    run_pipeline(PgsPipeline(), params, ctx, inputs_dir=tmp_path / "staged")
    cli = CliRunner().invoke(
        app,
        ["pgs", "score", "--target", str(root / "cohort.bgen"), "--scores",
         str(root / "PGS999941.txt"), "--build", "GRCh38", "--out", str(tmp_path / "cli"),
         "--sampleset", "tiny"],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    job = (tmp_path / "job" / SCORES_NAME).read_bytes()
    assert job == (tmp_path / "cli" / SCORES_NAME).read_bytes()
    assert pl.read_csv(tmp_path / "job" / SCORES_NAME, separator="\t").height == 3202


def test_a_bgen_row_must_name_the_bgen_as_its_variants() -> None:
    row = {"sampleset": "tiny", "geno": "a.bgen", "variants": "b.bgen", "pheno": "a.sample",
           "format": "bgen"}  # fmt: skip
    with pytest.raises(ValidationError, match="variants must name geno"):
        PgsParams.model_validate(
            {"target_genomes": [row], "scorefiles": ["s.txt"], "target_build": "GRCh38"}
        )
