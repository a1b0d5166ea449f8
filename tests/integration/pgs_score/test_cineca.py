"""The CINECA test data of the PGS Catalog Calculator, in its three formats, against the real
pgsc_calc/plink2 outputs stored in the shared data (generated/, see its README)."""

from __future__ import annotations

import gzip
import io
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import zstandard

from vatti.pipelines.pgs.aggregate import format_rows
from vatti.pipelines.pgs.streaming import ScoringOptions, score_samplesets
from vatti.pipelines.pgs.targets import GenotypeFile, Sampleset, read_variants
from vatti.testing.services import plink2_path, shared_pgs_data

pytestmark = pytest.mark.integration


def _shared() -> Path:
    return shared_pgs_data()


@pytest.fixture(scope="module")
def data() -> Path:
    return _shared()


def _target(data: Path) -> str:
    return str(data / "pgsc_calc/assets/examples/target_genomes/cineca_synthetic_subset")


def _sampleset(data: Path, fmt: str) -> Sampleset:
    prefix = _target(data) + (".vcf.gz" if fmt == "vcf" else "")
    return Sampleset("cineca", [GenotypeFile.from_prefix(fmt, prefix)])  # type: ignore[arg-type]


def _sscore(path: Path) -> pl.DataFrame:
    text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(path.read_bytes())).read()
    return pl.read_csv(io.BytesIO(text), separator="\t")


def _matched(
    sampleset: Sampleset, scorefile: Path, effect_type: str, *, tag: str = ""
) -> pl.DataFrame:
    """Rows for every column of a plink2 score file (zero weights included, as plink2 counts
    them), keyed by the chr:pos:ref:alt IDs of the relabelled pvar."""
    variants = read_variants(sampleset).with_columns(
        ID=pl.concat_str(["chrom", "pos", "ref", "alt"], separator=":")
    )
    wide = pl.read_csv(scorefile, separator="\t")
    joined = wide.join(variants, on="ID", how="inner")
    assert joined.height == wide.height
    columns = wide.columns[2:]
    return pl.concat(
        joined.select(
            accession=pl.lit(column + tag),
            file_idx="file_idx",
            variant_idx="variant_idx",
            allele_idx=pl.when(pl.col("effect_allele") == pl.col("ref"))
            .then(0)
            .otherwise(1)
            .cast(pl.UInt8),
            effect_weight=pl.col(column).cast(pl.Float64),
            effect_type=pl.lit(effect_type),
        )
        for column in columns
    )


def _assert_like_sscore(
    ours: pl.DataFrame, expected: pl.DataFrame, column: str, *, vcf_ids: bool = False
) -> None:
    assert ours.height == expected.height
    iids = expected["IID"]
    if vcf_ids:
        iids = pl.Series(
            [f"{f}_{i}" for f, i in zip(expected["#FID"], expected["IID"], strict=True)]
        )
        assert (ours["FID"] == "0").all()
    assert ours["IID"].to_list() == iids.to_list()
    np.testing.assert_allclose(
        ours["SUM"].to_numpy(), expected[f"{column}_SUM"].to_numpy(), rtol=1e-5, atol=1e-6
    )
    assert ours["ALLELE_CT"].to_list() == expected["ALLELE_CT"].to_list()
    assert ours["DENOM"].to_list() == expected["DENOM"].to_list()


@pytest.mark.parametrize("fmt", ["pfile", "bfile", "vcf"])
def test_pgs001229_all_formats(data: Path, fmt: str) -> None:
    generated = data / "generated/cineca_PGS001229_22"
    sampleset = _sampleset(data, fmt)
    matched = _matched(sampleset, generated / "cineca_22_additive_0.scorefile.gz", "additive")
    assert matched.height == 782
    ours = score_samplesets([sampleset], matched, ScoringOptions(block_size=100))
    expected = _sscore(generated / "cineca_22_additive_0.sscore.zst")
    _assert_like_sscore(ours, expected, "PGS001229", vcf_ids=fmt == "vcf")
    if fmt != "vcf":  # the VCF sample IDs differ, by design of pgsc_calc's VCF import
        wanted = gzip.decompress((generated / "aggregated_scores.txt.gz").read_bytes())
        assert format_rows(ours) == wanted.decode().splitlines()


def test_multiscore_split_files_dominant_and_recessive(data: Path) -> None:
    generated = data / "generated/cineca_multiscore"
    sampleset = _sampleset(data, "pfile")
    splits = {
        "additive_0": "additive",
        "additive_1": "additive",
        "dominant_0": "dominant",
        "recessive_0": "recessive",
    }
    matched = pl.concat(
        _matched(sampleset, generated / f"cineca_22_{split}.scorefile.gz", effect, tag=f"|{split}")
        for split, effect in splits.items()
    )
    ours = score_samplesets([sampleset], matched)  # one pass for all the split scores
    for split in splits:
        expected = _sscore(generated / f"cineca_22_{split}.sscore.zst")
        sums = [c for c in expected.columns if c.endswith("_SUM") and not c.startswith("NAMED")]
        for column in [c.removesuffix("_SUM") for c in sums]:
            _assert_like_sscore(ours.filter(pl.col("PGS") == f"{column}|{split}"), expected, column)
    # the aggregated SUM is the sum over the split files of each score
    totals = (
        ours.with_columns(pl.col("PGS").str.split("|").list.first())
        .group_by("PGS", "IID", maintain_order=True)
        .agg(pl.col("SUM").sum())
    )
    aggregated = pl.read_csv(generated / "aggregated_scores.txt.gz", separator="\t")
    both = aggregated.join(totals, on=["PGS", "IID"], suffix="_ours")
    assert both.height == aggregated.height == 3 * 2504
    np.testing.assert_allclose(both["SUM_ours"], both["SUM"], rtol=1e-5, atol=3e-6)


@pytest.mark.plink2
def test_small_sampleset_uses_no_mean_imputation(data: Path, tmp_path: Path) -> None:
    generated = data / "generated/cineca_small20_nomeanimp"
    subprocess.run(
        [plink2_path(), "--pfile", _target(data), "--keep", str(generated / "keep20.txt"),
         "--make-pgen", "--out", str(tmp_path / "small")],
        check=True, capture_output=True,
    )  # fmt: skip
    sampleset = Sampleset("small", [GenotypeFile.from_prefix("pfile", tmp_path / "small")])
    matched = _matched(
        sampleset,
        data / "generated/cineca_PGS001229_22/cineca_22_additive_0.scorefile.gz",
        "additive",
    )
    ours = score_samplesets([sampleset], matched)  # 20 samples: no mean imputation
    expected = _sscore(generated / "small_additive_0.sscore.zst")
    _assert_like_sscore(ours, expected, "PGS001229")
    assert (ours["DENOM"] < 1564).any()
