"""The ``pgs`` pipeline of the service, run with a request in hattivatti's shape.

The request names a Catalog score (``nxf_params_file: {pgs_id, target_build}``), resolved from a
prepopulated local cache in offline mode, plus a local scoring file; its genotypes lie under the
runtime's input root. Expected scores are computed here with numpy from the synthetic genotypes
and the truth of each scoring-file row (pgsc_calc's rules: mean imputation from 50 samples up).
"""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from vatti.pipelines.base import JobSettings, PgsCatalogAccess, RunContext
from vatti.pipelines.errors import StepFailed
from vatti.pipelines.pgs import synthetic as syn
from vatti.pipelines.pgs.catalog import CatalogUnavailable, harmonized_name
from vatti.pipelines.pgs.params import PgsParams
from vatti.pipelines.pgs.pipeline import PgsPipeline
from vatti.runtime.execute import run_pipeline

pytestmark = pytest.mark.integration

COHORTS = {
    "big": syn.CohortSpec(n_samples=60, n_variants=600, seed=901, missing_rate=0.03),
    "small": syn.CohortSpec(n_samples=20, n_variants=600, seed=902, missing_rate=0.03),
}
CATALOG_SCORE = syn.ScoreSpec(250, pgs_id="PGS999901", seed=1)
LOCAL_SCORE = syn.ScoreSpec(90, pgs_id="PGS999902", seed=2, swapped=0.5)


def expected_scores(spec: syn.CohortSpec, rows: syn.ScoreRows) -> tuple[np.ndarray, np.ndarray]:
    """SUM and DENOM per sample from the genotypes, in plain numpy."""
    variants = syn.make_variants(spec)
    geno = np.concatenate(list(syn.genotype_blocks(spec, variants))).astype(float)
    geno[geno == syn.MISSING] = np.nan
    keep = rows.matchable()
    alt_copies = geno[rows.target_idx[keep]]
    dosage = np.where(rows.effect_is_ref[keep][:, None], 2.0 - alt_copies, alt_copies)
    called = ~np.isnan(dosage)
    if spec.n_samples >= 50:
        freq = np.nanmean(dosage, axis=1) / 2.0
        dosage = np.where(called, dosage, 2.0 * freq[:, None])
        denom = np.full(spec.n_samples, 2 * int(keep.sum()))
    else:
        dosage = np.where(called, dosage, 0.0)
        denom = 2 * called.sum(axis=0)
    return rows.weight[keep] @ dosage, denom


def context(
    tmp_path: Path, *, input_root: Path | None = None, catalog: Path | None = None
) -> RunContext:
    """A job's context: local inputs under ``input_root``; the catalog offline, cached in
    ``catalog`` (default: an empty cache)."""
    access = PgsCatalogAccess(catalog or tmp_path / "no-catalog", "http://127.0.0.1:9/", True)
    return RunContext(
        job_id="job-1",
        work_dir=tmp_path / "work",
        output_dir=tmp_path / "out",
        log=logging.LoggerAdapter(logging.getLogger("test.pgs"), {}),
        settings=JobSettings(input_root=input_root, pgs_catalog=access),
    )


def target_genome(sampleset: str, prefix: str) -> dict[str, Any]:
    return {
        "sampleset": sampleset,
        "chrom": "22",
        "vcf_import_dosage": False,
        "geno": f"{prefix}.pgen",
        "pheno": f"{prefix}.psam",
        "variants": f"{prefix}.pvar",
        "format": "pfile",
    }


def hattivatti_request(*genomes: dict[str, Any], **extra: Any) -> PgsParams:
    """Params in hattivatti's shape; ``min_overlap`` goes under ``nxf_params_file`` with the
    ids and the build (pgsc_calc's parameters: all there, or all flat)."""
    nested = {"pgs_id": "PGS999901", "format": "json", "target_build": "GRCh37"}
    if "min_overlap" in extra:
        nested["min_overlap"] = extra.pop("min_overlap")
    return PgsParams.model_validate(
        {
            "id": "INTP00000001",
            "target_genomes": list(genomes),
            "nxf_params_file": nested,
            **extra,
        }
    )


@pytest.mark.parametrize("cohort", sorted(COHORTS))
def test_pipeline_scores_a_catalog_id_and_a_local_file(tmp_path: Path, cohort: str) -> None:
    spec = COHORTS[cohort]
    root, cache = tmp_path / "inputs", tmp_path / "catalog"
    variants = syn.write_pfile(root / "genomes/cohort", spec)
    catalog_rows = syn.write_scorefile(
        cache / harmonized_name("PGS999901", "GRCh37"), variants, CATALOG_SCORE
    )
    local_rows = syn.write_scorefile(root / "scores/PGS999902.txt.gz", variants, LOCAL_SCORE)
    params = hattivatti_request(
        target_genome("cohort", "genomes/cohort"), scorefiles=["scores/PGS999902.txt.gz"]
    )
    ctx = context(tmp_path, input_root=root, catalog=cache)
    outcome = run_pipeline(PgsPipeline(), params, ctx, inputs_dir=tmp_path / "staged")

    assert "aggregated_scores.txt.gz" in outcome.outputs
    for name in outcome.outputs:
        assert (ctx.output_dir / name).is_file(), name
    text = gzip.decompress((ctx.output_dir / "aggregated_scores.txt.gz").read_bytes()).decode()
    assert text.splitlines()[0].split("\t") == [
        "sampleset", "FID", "IID", "PGS", "SUM", "DENOM", "AVG",
    ]  # fmt: skip
    scores = pl.read_csv(
        ctx.output_dir / "aggregated_scores.txt.gz",
        separator="\t",
        schema_overrides={"FID": pl.Utf8, "IID": pl.Utf8},
    )
    assert set(scores["PGS"]) == {"PGS999901", "PGS999902"}
    assert (scores["sampleset"] == "cohort").all()
    for rows in (catalog_rows, local_rows):
        got = scores.filter(pl.col("PGS") == rows.pgs_id)
        assert got["IID"].to_list() == syn.sample_ids(spec)
        want_sum, want_denom = expected_scores(spec, rows)
        # the written file holds plink2's 6 significant digits
        np.testing.assert_allclose(got["SUM"], want_sum, rtol=1e-5, atol=1e-9)
        assert got["DENOM"].to_list() == want_denom.tolist()
        np.testing.assert_allclose(got["AVG"], got["SUM"] / got["DENOM"], rtol=1e-12)


def test_samplesets_and_chromosome_split_files(tmp_path: Path) -> None:
    """Two samplesets in one request; one of them split over two files (its rows per chrom)."""
    root, cache = tmp_path / "inputs", tmp_path / "catalog"
    spec = COHORTS["small"]
    variants = syn.write_pfile(root / "a/cohort", spec)
    syn.write_scorefile(cache / harmonized_name("PGS999901", "GRCh37"), variants, CATALOG_SCORE)
    other = syn.CohortSpec(n_samples=20, n_variants=600, seed=902, chrom="21", missing_rate=0.03)
    syn.write_pfile(root / "b/chr21", other)  # same samples, no scored variants
    syn.write_pfile(root / "b/chr22", spec)
    params = hattivatti_request(
        target_genome("setA", "a/cohort"),
        target_genome("setB", "b/chr21") | {"chrom": "21"},
        target_genome("setB", "b/chr22"),
    )
    ctx = context(tmp_path, input_root=root, catalog=cache)
    run_pipeline(PgsPipeline(), params, ctx, inputs_dir=tmp_path / "staged")
    scores = pl.read_csv(ctx.output_dir / "aggregated_scores.txt.gz", separator="\t")
    a = scores.filter(pl.col("sampleset") == "setA")
    b = scores.filter(pl.col("sampleset") == "setB")
    assert a.height == b.height == spec.n_samples
    assert a["SUM"].to_list() == b["SUM"].to_list()
    assert a["DENOM"].to_list() == b["DENOM"].to_list()


def test_min_overlap_failure_is_a_step_failure(tmp_path: Path) -> None:
    root, cache = tmp_path / "inputs", tmp_path / "catalog"
    variants = syn.write_pfile(root / "g/cohort", COHORTS["small"])
    rows = syn.write_scorefile(
        cache / harmonized_name("PGS999901", "GRCh37"), variants, CATALOG_SCORE
    )
    params = hattivatti_request(target_genome("cohort", "g/cohort"), min_overlap=0.99)
    ctx = context(tmp_path, input_root=root, catalog=cache)
    with pytest.raises(StepFailed) as caught:
        run_pipeline(PgsPipeline(), params, ctx, inputs_dir=tmp_path / "staged")
    assert caught.value.step == "match"
    assert caught.value.code == "pgs_min_overlap"
    rate = f"{rows.matchable().mean() * 100:.1f}%"
    assert "PGS999901 in cohort" in caught.value.message
    assert rate in caught.value.message
    assert (ctx.output_dir / "match_summary.json").is_file()
    assert not (ctx.output_dir / "aggregated_scores.txt.gz").exists()


@pytest.mark.parametrize(
    "prefix",
    ["../outside/cohort", "link/cohort", "/abs/cohort"],
    ids=["dotdot", "symlink", "absolute"],
)
def test_paths_outside_the_input_root_are_refused(tmp_path: Path, prefix: str) -> None:
    root, outside = tmp_path / "inputs", tmp_path / "outside"
    root.mkdir()
    syn.write_pfile(outside / "cohort", COHORTS["small"])
    os.symlink(outside, root / "link")
    if prefix.startswith("/"):
        prefix = str(outside / "cohort")
    params = hattivatti_request(target_genome("cohort", prefix))
    ctx = context(tmp_path, input_root=root, catalog=tmp_path)
    with pytest.raises(StepFailed) as caught:
        run_pipeline(PgsPipeline(), params, ctx, inputs_dir=tmp_path / "staged")
    assert caught.value.code == "input_refused"
    assert "outside the input root" in caught.value.message
    assert not ctx.output_dir.exists() or not any(ctx.output_dir.iterdir())


def test_no_input_root_means_no_local_files(tmp_path: Path) -> None:
    params = hattivatti_request(target_genome("cohort", "g/cohort"))
    with pytest.raises(StepFailed) as caught:
        run_pipeline(PgsPipeline(), params, context(tmp_path), inputs_dir=tmp_path / "staged")
    assert caught.value.code == "input_refused"
    assert "VATTI_INPUT_ROOT" in caught.value.message


def test_offline_catalog_without_the_file_fails_clearly(tmp_path: Path) -> None:
    root = tmp_path / "inputs"
    syn.write_pfile(root / "g/cohort", COHORTS["small"])
    params = hattivatti_request(target_genome("cohort", "g/cohort"))
    ctx = context(tmp_path, input_root=root, catalog=tmp_path / "empty")
    with pytest.raises(CatalogUnavailable) as caught:
        run_pipeline(PgsPipeline(), params, ctx, inputs_dir=tmp_path / "staged")
    assert "PGS999901" in caught.value.message
    assert "offline" in caught.value.message


def test_reference_freqs_from_the_request(tmp_path: Path) -> None:
    """A sampleset under 50 samples is mean-imputed from the request's reference frequencies."""
    spec = COHORTS["small"]
    root, cache = tmp_path / "inputs", tmp_path / "catalog"
    variants = syn.write_pfile(root / "genomes/cohort", spec)
    rows = syn.write_scorefile(
        cache / harmonized_name("PGS999901", "GRCh37"), variants, CATALOG_SCORE
    )
    alt_freq = 0.3
    reference = {"ID": variants.id_series(), "REF": variants.ref, "ALT": variants.alt}
    pl.DataFrame(reference).with_columns(ALT_FREQS=pl.lit(alt_freq)).write_csv(
        root / "ref.afreq", separator="\t"
    )
    params = hattivatti_request(
        target_genome("cohort", "genomes/cohort"), reference_freqs="ref.afreq"
    )
    ctx = context(tmp_path, input_root=root, catalog=cache)
    run_pipeline(PgsPipeline(), params, ctx, inputs_dir=tmp_path / "staged")

    scores = pl.read_csv(
        ctx.output_dir / "aggregated_scores.txt.gz",
        separator="\t",
        schema_overrides={"FID": pl.Utf8, "IID": pl.Utf8},
    )
    geno = np.concatenate(list(syn.genotype_blocks(spec, variants))).astype(float)
    geno[geno == syn.MISSING] = np.nan
    keep = rows.matchable()
    alt_copies = geno[rows.target_idx[keep]]
    is_ref = rows.effect_is_ref[keep][:, None]
    dosage = np.where(is_ref, 2.0 - alt_copies, alt_copies)
    imputed = np.where(is_ref, 2.0 * (1 - alt_freq), 2.0 * alt_freq)
    assert np.isnan(dosage).any()
    want = rows.weight[keep] @ np.where(np.isnan(dosage), imputed, dosage)
    np.testing.assert_allclose(scores["SUM"], want, rtol=1e-5, atol=1e-9)
    assert (scores["DENOM"] == 2 * int(keep.sum())).all()


def test_reference_freqs_outside_the_input_root_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "inputs"
    syn.write_pfile(root / "genomes/cohort", COHORTS["small"])
    params = hattivatti_request(
        target_genome("cohort", "genomes/cohort"), reference_freqs="../ref.afreq"
    )
    (tmp_path / "ref.afreq").write_text("ID\tREF\tALT\tALT_FREQS\n")
    ctx = context(tmp_path, input_root=root)
    with pytest.raises(StepFailed, match="outside the input root"):
        run_pipeline(PgsPipeline(), params, ctx, inputs_dir=tmp_path / "staged")
