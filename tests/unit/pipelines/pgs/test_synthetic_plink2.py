"""plink2 reads the synthetic cohort, in both forms, as the genotypes we generated."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from vatti.pipelines.pgs import synthetic as syn
from vatti.testing.services import plink2_path

pytestmark = [pytest.mark.integration, pytest.mark.plink2]

SPEC = syn.CohortSpec(n_samples=80, n_variants=400, missing_rate=0.02)


def plink2_freq(source: list[str], out: Path) -> pl.DataFrame:
    subprocess.run(
        [plink2_path(), *source, "--freq", "--threads", "1", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return pl.read_csv(f"{out}.afreq", separator="\t")


@pytest.mark.parametrize("form", ["pfile", "vcf"])
def test_plink2_counts_match_the_generated_genotypes(tmp_path: Path, form: str) -> None:
    if form == "pfile":
        variants = syn.write_pfile(tmp_path / "cohort", SPEC)
        source = ["--pfile", str(tmp_path / "cohort")]
    else:
        variants = syn.write_vcf_gz(tmp_path / "cohort.vcf.gz", SPEC)
        source = ["--vcf", str(tmp_path / "cohort.vcf.gz")]
    geno = np.concatenate(list(syn.genotype_blocks(SPEC, variants)))
    called = geno != syn.MISSING
    freq = plink2_freq(source, tmp_path / "freq")
    assert freq["ID"].to_list() == variants.ids()
    assert freq["REF"].to_list() == variants.ref.tolist()
    assert freq["ALT"].to_list() == variants.alt.tolist()
    np.testing.assert_array_equal(freq["OBS_CT"].to_numpy(), 2 * called.sum(axis=1))
    alt_freq = np.where(called, geno, 0).sum(axis=1) / (2 * called.sum(axis=1))
    np.testing.assert_allclose(freq["ALT_FREQS"].to_numpy(), alt_freq, rtol=1e-5)
