"""``vatti pgs score`` on its own, on the PGS Catalog Calculator's CINECA test data.

The CLI runs as a subprocess (``python -m vatti pgs score``) on the PLINK 2, PLINK 1 and VCF.gz
forms of the data, and its ``aggregated_scores.txt.gz`` is compared with the one pgsc_calc wrote
(shared data, ``generated/``): SUM within a relative 1e-5, DENOM exactly.

DENOM: pgsc_calc's counts every variant of the split plink2 score file a score was in (1570 for
every score of the multiscore run); ours counts the score's own matched variants (twice that,
with mean imputation). With one score they are the same.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from vatti.testing.services import shared_pgs_data

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

COLUMNS = ["sampleset", "FID", "IID", "PGS", "SUM", "DENOM", "AVG"]


@pytest.fixture(scope="module")
def data() -> Path:
    return shared_pgs_data()


def target(data: Path, fmt: str) -> str:
    prefix = data / "pgsc_calc/assets/examples/target_genomes/cineca_synthetic_subset"
    return f"{prefix}.vcf.gz" if fmt == "vcf" else f"{prefix}.{'pgen' if fmt == 'pfile' else 'bed'}"


def vatti_pgs_score(
    scores: list[Path], target_path: str, out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "vatti", "pgs", "score"]
    for score in scores:
        args += ["--scores", str(score)]
    args += ["--target", target_path, "--build", "GRCh37", "--sampleset", "cineca"]
    args += ["--out", str(out), *extra]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)


def read_scores(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, separator="\t", schema_overrides={"FID": pl.Utf8, "IID": pl.Utf8})


@pytest.mark.parametrize("fmt", ["pfile", "bfile", "vcf"])
def test_pgs001229_like_pgsc_calc(data: Path, tmp_path: Path, fmt: str) -> None:
    scorefile = data / "pgsc_calc/assets/examples/scorefiles/PGS001229_22.txt"
    done = vatti_pgs_score([scorefile], target(data, fmt), tmp_path)
    assert done.returncode == 0, done.stderr
    expected_path = data / "generated/cineca_PGS001229_22/aggregated_scores.txt.gz"
    ours = read_scores(tmp_path / "aggregated_scores.txt.gz")
    expected = read_scores(expected_path)
    assert ours.columns == COLUMNS
    assert ours.height == expected.height == 2504
    if fmt == "vcf":  # pgsc_calc's VCF import names the samples FID_IID
        iids = [f"{f}_{i}" for f, i in zip(expected["FID"], expected["IID"], strict=True)]
        assert ours["IID"].to_list() == iids
    else:
        assert ours["IID"].to_list() == expected["IID"].to_list()
        assert ours["FID"].to_list() == expected["FID"].to_list()
        # with plink2's 6 digits the whole file is pgsc_calc's, byte for byte
        got = gzip.decompress((tmp_path / "aggregated_scores.txt.gz").read_bytes())
        assert got == gzip.decompress(expected_path.read_bytes())
    rel = np.abs(ours["SUM"] - expected["SUM"]) / np.abs(expected["SUM"])
    assert float(rel.max()) <= 1e-5
    assert ours["DENOM"].to_list() == expected["DENOM"].to_list()
    summary = json.loads((tmp_path / "match_summary.json").read_text())
    assert "PGS001229" in json.dumps(summary)
    assert (tmp_path / "match_log.tsv.gz").is_file()


def test_three_scores_in_one_pass(data: Path, tmp_path: Path) -> None:
    scores = [
        data / "pgsc_calc/assets/examples/scorefiles/PGS001229_22.txt",
        data / "pgsc_calc/assets/examples/scorefiles/PGS001229_22_duplicate.txt",
        data / "generated/cineca_multiscore/domrec_scorefile_with_header.txt",
    ]
    done = vatti_pgs_score(scores, target(data, "pfile"), tmp_path)
    assert done.returncode == 0, done.stderr
    ours = read_scores(tmp_path / "aggregated_scores.txt.gz")
    expected = read_scores(data / "generated/cineca_multiscore/aggregated_scores.txt.gz")
    both = expected.join(ours, on=["PGS", "IID"], suffix="_ours")
    assert both.height == expected.height == 3 * 2504
    # pgsc_calc sums the 6-digit sums of the split files a score was spread over
    np.testing.assert_allclose(both["SUM_ours"], both["SUM"], rtol=1e-5, atol=3e-6)
    # our DENOM: twice the variants pgsc_calc matched for that score (its summary)
    summary = pl.read_csv(data / "generated/cineca_multiscore/cineca_summary.csv")
    matched = dict(
        summary.filter(pl.col("match_status") == "matched").select("accession", "count").rows()
    )
    for pgs, denom in both.group_by("PGS").agg(pl.col("DENOM_ours").unique()).rows():
        assert denom == [2 * matched[pgs]], pgs


def test_min_overlap_failure_names_the_score(data: Path, tmp_path: Path) -> None:
    scorefile = data / "pgsc_calc/assets/examples/scorefiles/PGS001229_22.txt"
    done = vatti_pgs_score([scorefile], target(data, "pfile"), tmp_path, "--min-overlap", "0.95")
    assert done.returncode == 65  # no score passed
    message = " ".join(done.stderr.split())
    assert "PGS001229" in message
    assert "93.7%" in message  # 782 of 835 variants matched
    assert "min_overlap" in message
    assert "Traceback" not in done.stderr
    # the match reports are there to see why; no scores
    assert (tmp_path / "match_log.tsv.gz").is_file()
    assert (tmp_path / "match_summary.json").is_file()
    assert not (tmp_path / "aggregated_scores.txt.gz").exists()
