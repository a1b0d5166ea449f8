"""Liftover end to end: a scoring file in the other build, lifted with a chain file, gives the
scores the PGS Catalog Calculator gives the file in the target build.

The test makes its own chain (the UCSC chain files are not redistributable): a "GRCh38" chr22
whose positions are GRCh37's moved by -600,000 up to 30 Mb and by -500,000 after, with a
100,000 bp insertion between, and a chain file of that map (chromosome sizes of the real builds,
so the direction check holds). pgsc_calc's PGS001229_22 (GRCh37) is rewritten at those "GRCh38"
positions, plus one row in the insertion (it cannot lift). ``vatti pgs score --liftover
--chain`` on the CINECA data (GRCh37) must give pgsc_calc's own scores of the original file
(``generated/cineca_PGS001229_22``), and the row that did not lift is counted in the report.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from vatti.cli import app
from vatti.pipelines.pgs.liftover import CHROMOSOME_LENGTHS
from vatti.pipelines.pgs.orchestration import REPORT_NAME, SCORES_NAME, SUMMARY_TSV
from vatti.pipelines.pgs.vocabulary import GenomeBuild
from vatti.testing.services import shared_pgs_data

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

EXAMPLES = "pgsc_calc/assets/examples"
SIZE37 = CHROMOSOME_LENGTHS[GenomeBuild.GRCh37]["22"]
SIZE38 = CHROMOSOME_LENGTHS[GenomeBuild.GRCh38]["22"]
#: (start in "GRCh38" 0-based, start in GRCh37, length) of the two aligned blocks
BLOCKS = ((15_400_000, 16_000_000, 14_000_000), (29_500_000, 30_000_000, SIZE37 - 30_000_000))
INSERTION = 29_450_000  # 1-based "GRCh38" position between the blocks


def to_38(pos: pl.Expr) -> pl.Expr:
    return pl.when(pos <= 30_000_000).then(pos - 600_000).otherwise(pos - 500_000)


def write_chain(path: Path) -> None:
    (s1, t1, n1), (s2, t2, n2) = BLOCKS
    gap_source, gap_target = s2 - (s1 + n1), t2 - (t1 + n1)
    path.write_text(
        f"chain 1000 chr22 {SIZE38} + {s1} {s2 + n2} chr22 {SIZE37} + {t1} {t2 + n2} 1\n"
        f"{n1} {gap_source} {gap_target}\n{n2}\n\n"
    )


def write_lifted_scorefile(source: Path, path: Path) -> int:
    lines = source.read_text().splitlines()
    header = [
        line.replace("genome_build=GRCh37", "genome_build=GRCh38")
        for line in lines
        if line.startswith("#")
    ]
    table = pl.read_csv(source, separator="\t", comment_prefix="#", infer_schema=False)
    moved = table.with_columns(
        chr_position=to_38(pl.col("chr_position").cast(pl.Int64)).cast(pl.Utf8)
    )
    extra = moved.head(1).with_columns(
        chr_position=pl.lit(str(INSERTION)), rsID=pl.lit("rs_in_the_insertion")
    )
    body = pl.concat([moved, extra]).write_csv(separator="\t")
    path.write_text("\n".join(header) + "\n" + body)
    return table.height


def test_a_lifted_scoring_file_scores_as_pgsc_calc_in_the_target_build(tmp_path: Path) -> None:
    data = shared_pgs_data()
    chain, scorefile = tmp_path / "hg38ToHg19.test.chain", tmp_path / "PGS001229_22_38.txt"
    write_chain(chain)
    n_rows = write_lifted_scorefile(data / EXAMPLES / "scorefiles/PGS001229_22.txt", scorefile)
    prefix = data / EXAMPLES / "target_genomes/cineca_synthetic_subset"
    common = ["pgs", "score", "--target", str(prefix), "--scores", str(scorefile),
              "--build", "GRCh37", "--sampleset", "cineca"]  # fmt: skip

    refused = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "no")])
    assert refused.exit_code != 0
    assert "genome build GRCh38 differs from the target build GRCh37" in str(refused.exception)

    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, [*common, "--liftover", "--chain", str(chain), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    ours = pl.read_csv(out / SCORES_NAME, separator="\t", infer_schema=False)
    expected = pl.read_csv(
        data / "generated/cineca_PGS001229_22/aggregated_scores.txt.gz",
        separator="\t",
        infer_schema=False,
    )
    assert ours.select("IID", "SUM", "DENOM").equals(expected.select("IID", "SUM", "DENOM"))
    summary = pl.read_csv(out / SUMMARY_TSV, separator="\t").row(0, named=True)
    assert (summary["n_variants"], summary["n_matched"]) == (n_rows, 782)
    report = (out / REPORT_NAME).read_text()
    assert "<dt>rows dropped (liftover_unmapped)</dt><dd>1</dd>" in report
    assert "hg38ToHg19.test.chain" in report


def test_liftover_and_chain_go_together(tmp_path: Path) -> None:
    prefix = shared_pgs_data() / EXAMPLES / "target_genomes/cineca_synthetic_subset"
    scorefile = shared_pgs_data() / EXAMPLES / "scorefiles/PGS001229_22.txt"
    base = ["pgs", "score", "--target", str(prefix), "--scores", str(scorefile),
            "--build", "GRCh37", "--out", str(tmp_path / "o")]  # fmt: skip
    alone = CliRunner().invoke(app, [*base, "--liftover"])
    assert alone.exit_code == 2
    assert "--liftover needs --chain" in alone.output
    chain_only = CliRunner().invoke(app, [*base, "--chain", str(scorefile)])
    assert chain_only.exit_code == 2
