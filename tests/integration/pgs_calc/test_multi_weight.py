"""A custom scoring file with several ``effect_weight_*`` columns is one score per column, named
by the column as pygscatalog names them, end to end through ``vatti pgs score`` and against
plink2 ``--score`` of each column on the same target.

The file is written from pgsc_calc's ``multiscore.txt`` (829 CINECA variants, IDs
``chr:pos:ref:alt``, effect allele given): PGS001229_22's weights, random weights, and the same
weights with a third of the cells empty (those rows are not in that score). plink2 scores the
CINECA PLINK 2 fileset with pgsc_calc's relabelled ``.pvar`` (the same IDs), one run per score
so that its DENOM counts that score's variants, as ours does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from vatti.cli import app
from vatti.pipelines.pgs.orchestration import SCORES_NAME, SUMMARY_TSV
from vatti.testing.services import plink2_path, shared_pgs_data

pytestmark = [pytest.mark.integration, pytest.mark.plink2]

EXAMPLES = "pgsc_calc/assets/examples"
SCORES = ("effect_weight_PGS001229_22", "effect_weight_random", "effect_weight_sparse")


@pytest.fixture(scope="module")
def weights() -> pl.DataFrame:
    """One row per variant: ID, effect and other allele, position, and the three weights."""
    rows = pl.read_csv(
        shared_pgs_data() / EXAMPLES / "scorefiles/multiscore.txt",
        separator="\t",
        schema_overrides={"PGS001229_22": pl.Float64},
    )
    parts = rows["ID"].str.split(":")
    rng = np.random.default_rng(77)
    random = np.round(rng.normal(0, 0.05, rows.height), 6)
    sparse = rows["PGS001229_22"].to_numpy().copy()
    sparse[rng.random(rows.height) < 1 / 3] = np.nan
    return rows.with_columns(
        chr_name=parts.list.get(0),
        chr_position=parts.list.get(1).cast(pl.Int64),
        other=pl.when(pl.col("effect_allele") == parts.list.get(2))
        .then(parts.list.get(3))
        .otherwise(parts.list.get(2)),
        effect_weight_PGS001229_22=pl.col("PGS001229_22"),
        effect_weight_random=pl.Series(random),
        effect_weight_sparse=pl.Series(sparse).fill_nan(None),
    )


def write_wide(path: Path, weights: pl.DataFrame) -> None:
    body = weights.select(
        "chr_name",
        "chr_position",
        "effect_allele",
        pl.col("other").alias("other_allele"),
        *SCORES,
    ).write_csv(separator="\t", null_value="")
    path.write_text("#pgs_name=wide\n#pgs_id=wide\n#genome_build=GRCh37\n" + body)


def plink2_sums(work: Path, weights: pl.DataFrame, score: str) -> pl.DataFrame:
    data = shared_pgs_data()
    prefix = data / EXAMPLES / "target_genomes/cineca_synthetic_subset"
    pvar = data / "generated/cineca_PGS001229_22/GRCh37_cineca_22.pvar.zst"
    rows = weights.filter(pl.col(score).is_not_null()).select("ID", "effect_allele", score)
    rows.write_csv(work / f"{score}.tsv", separator="\t")
    subprocess.run(
        [
            plink2_path(), "--threads", "1", "--pgen", f"{prefix}.pgen", "--pvar", str(pvar),
            "--psam", f"{prefix}.psam", "--score", str(work / f"{score}.tsv"), "1", "2", "3",
            "header-read", "cols=+scoresums,+denom", "--out", str(work / score),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return pl.read_csv(work / f"{score}.sscore", separator="\t").select(
        pl.col("IID").cast(pl.Utf8), pl.col(f"{score}_SUM").alias("SUM_plink2"), "DENOM"
    )


def test_each_weight_column_is_a_score_equal_to_plink2s(
    weights: pl.DataFrame, tmp_path: Path
) -> None:
    wide = tmp_path / "wide.txt"
    write_wide(wide, weights)
    prefix = shared_pgs_data() / EXAMPLES / "target_genomes/cineca_synthetic_subset"
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["pgs", "score", "--target", str(prefix), "--scores", str(wide), "--build", "GRCh37",
         "--keep-ambiguous", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ours = pl.read_csv(out / SCORES_NAME, separator="\t", schema_overrides={"IID": pl.Utf8})
    assert sorted(ours["PGS"].unique()) == sorted(SCORES)
    summary = pl.read_csv(out / SUMMARY_TSV, separator="\t")
    n_sparse = weights["effect_weight_sparse"].is_not_null().sum()
    assert dict(summary.select("accession", "n_variants").iter_rows()) == {
        SCORES[0]: weights.height,
        SCORES[1]: weights.height,
        SCORES[2]: n_sparse,
    }
    assert n_sparse < weights.height * 0.8
    for score in SCORES:
        theirs = plink2_sums(tmp_path, weights, score)
        both = ours.filter(pl.col("PGS") == score).join(theirs, on="IID", suffix="_plink2")
        assert both.height == 2504
        np.testing.assert_allclose(both["SUM"], both["SUM_plink2"], rtol=1e-5, atol=1e-9)
        assert (both["DENOM"] == both["DENOM_plink2"]).all(), score
    first = ours.filter(pl.col("PGS") == SCORES[0])["SUM"]
    assert not np.allclose(first, ours.filter(pl.col("PGS") == SCORES[1])["SUM"])
