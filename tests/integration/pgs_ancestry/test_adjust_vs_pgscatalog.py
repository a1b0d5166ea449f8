"""Population similarity and score normalisation against ``pgscatalog-ancestry-adjust``
(pgscatalog-calc 0.3.1, in its side environment) on the shared fixtures of its own tests:
FRAPOSA PCs of 1000G (reference, 2,574 unrelated samples) and HGDP (target, 929), the
reference's labels and relatedness list, and PGS001229 summed for both."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from vatti.pipelines.pgs.ancestry.analysis import AncestryOptions
from vatti.pipelines.pgs.ancestry.run import PcInputs, adjust_files, outputs
from vatti.pipelines.pgs.ancestry.similarity import Method
from vatti.testing.ancestry_peers import PGSCATALOG_CALC, peer_bin
from vatti.testing.services import shared_pgs_data

pytestmark = pytest.mark.integration

LEGACY = "pygscatalog/pgscatalog.utils/packages/pgscatalog.calc/tests/legacy/data"
#: deterministic steps agree within this relative difference
RELATIVE = 1e-6
#: population assignments agree for at least this share of the samples
AGREEMENT = 0.99


@pytest.fixture(scope="module")
def inputs() -> PcInputs:
    data = shared_pgs_data() / LEGACY
    return PcInputs(
        ref_pcs=data / "ref.pcs",
        target_pcs=data / "target.pcs",
        psam=data / "ref.psam",
        related=data / "ref.king.cutoff.id",
        scores=data / "aggregated_scores.txt",
        target="hgdp",
    )


def _peer(inputs: PcInputs, method: str, out: Path) -> Path:
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    argv = [
        str(peer_bin(PGSCATALOG_CALC) / "pgscatalog-ancestry-adjust"),
        "-d", inputs.target, "-r", "reference",
        "--ref_pcs", str(inputs.ref_pcs), "--target_pcs", str(inputs.target_pcs),
        "--psam", str(inputs.psam), "-x", str(inputs.related), "-s", str(inputs.scores),
        "-a", method, "--outdir", str(out),
    ]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, env=env, timeout=300)
    return out


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, separator="\t", infer_schema=False)


def _numbers(column: pl.Series) -> np.ndarray:
    return column.replace("", None).cast(pl.Float64).to_numpy()


def _assert_close(ours: pl.Series, theirs: pl.Series) -> None:
    a, b = _numbers(ours), _numbers(theirs)
    assert np.array_equal(np.isnan(a), np.isnan(b)), ours.name
    keep = ~np.isnan(b)
    scale = np.maximum(np.abs(b[keep]), 1e-300)
    assert np.max(np.abs(a[keep] - b[keep]) / scale) <= RELATIVE, ours.name


@pytest.mark.parametrize("method", ["RandomForest", "Mahalanobis"])
def test_adjusted_scores_and_similarity_match_pgscatalog(
    inputs: PcInputs, method: str, tmp_path: Path
) -> None:
    peer = _peer(inputs, method, tmp_path / "peer")
    ours = tmp_path / "ours"
    adjust_files(inputs, ours, AncestryOptions(method=Method.parse(method)))
    for name in (p.name for p in outputs(ours, inputs.target)[:2]):
        mine, theirs = _read(ours / name), _read(peer / name)
        assert mine.columns == theirs.columns, name
        assert mine.height == theirs.height > 3000, name
        assert mine.select("sampleset", "FID", "IID").equals(
            theirs.select("sampleset", "FID", "IID")
        ), name
        for column in theirs.columns:
            if column in ("sampleset", "FID", "IID", "PGS", "Unrelated", "REFERENCE", "SuperPop"):
                assert mine[column].equals(theirs[column]), column
            elif column in ("MostSimilarPop", "MostSimilarPop_LowConfidence"):
                agree = (mine[column] == theirs[column]).mean()
                assert agree is not None
                assert agree >= AGREEMENT, column
            elif column.startswith("RF_P_"):
                # RandomForest probabilities: the same trees with the same seed and the same
                # scikit-learn (equal today; another release may grow other trees)
                same = (mine[column] == theirs[column]).mean()
                assert same is not None
                assert same >= AGREEMENT, column
            else:
                _assert_close(mine[column], theirs[column])
    pgs = _read(ours / f"{inputs.target}_pgs.txt.gz")
    # the normalised scores are a distribution: not a copy of the sums
    z = _numbers(pgs.filter(pl.col("sampleset") == "reference")["Z_norm1"])
    assert abs(np.nanmean(z)) < 0.1
    assert 0.8 < np.nanstd(z) < 1.2
