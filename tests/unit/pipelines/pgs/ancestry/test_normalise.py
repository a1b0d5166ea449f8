"""The score normalisation maths on data whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import percentileofscore

from vatti.pipelines.pgs.ancestry.normalise import (
    Normalisation,
    Panel,
    adjust_score,
    adjusted_columns,
    percentile_of,
)

pytestmark = pytest.mark.unit


def test_percentile_is_scipys_rank_percentile_with_ties() -> None:
    rng = np.random.default_rng(3)
    dist = rng.integers(0, 20, size=300).astype(float)
    values = np.array([-1.0, 0.0, 5.0, 7.5, 19.0, 25.0])
    expected = [percentileofscore(dist, v, kind="rank") for v in values]
    assert percentile_of(dist, values).tolist() == pytest.approx(expected, rel=1e-12)


def _panel(n: int = 600, seed: int = 1) -> tuple[Panel, np.ndarray]:
    """Two populations apart on PC1; the score rises with PC1 and its spread with PC2."""
    rng = np.random.default_rng(seed)
    labels = ["A"] * (n // 2) + ["B"] * (n // 2)
    pcs = rng.normal(size=(n, 5))
    pcs[n // 2 :, 0] += 4.0
    score = 3.0 * pcs[:, 0] + rng.normal(size=n) * np.exp(0.5 * pcs[:, 1])
    train = np.ones(n, dtype=bool)
    train[::10] = False  # the related samples: not in any model
    return Panel(pcs, labels, train), score


def test_empirical_z_is_within_the_samples_population() -> None:
    panel, score = _panel()
    out = adjust_score(panel, score, panel.pcs[:4], score[:4], ["A", "A", "B", "B"])
    b = np.array(panel.labels) == "B"
    dist = score[b & panel.train]
    expected = (score[:4] - dist.mean()) / dist.std()
    assert out.target["Z_MostSimilarPop"][2:] == pytest.approx(expected[2:], rel=1e-12)
    assert out.target["percentile_MostSimilarPop"][2:].tolist() == pytest.approx(
        [percentileofscore(dist, v) for v in score[2:4]]
    )


def test_pc_regression_removes_the_ancestry_trend() -> None:
    panel, score = _panel()
    out = adjust_score(panel, score, panel.pcs, score, panel.labels)
    train = panel.train
    raw = np.corrcoef(score[train], panel.pcs[train, 0])[0, 1]
    z1, z2 = out.reference["Z_norm1"], out.reference["Z_norm2"]
    assert raw > 0.9
    assert abs(np.corrcoef(z1[train], panel.pcs[train, 0])[0, 1]) < 1e-8
    assert z1[train].std() == pytest.approx(1.0, rel=1e-9)
    # Z_norm2 also evens the spread along PC2, which Z_norm1 leaves
    wide = panel.pcs[:, 1] > 1
    narrow = panel.pcs[:, 1] < -1
    assert z1[wide].std() / z1[narrow].std() > 2
    assert z2[wide].std() / z2[narrow].std() == pytest.approx(1.0, abs=0.35)
    assert out.models["adjust_pcs"]["Z_norm2"]["success"]


def test_a_score_without_variance_gets_nan_everywhere() -> None:
    panel, _ = _panel()
    flat = np.full(len(panel.labels), 2.0)
    out = adjust_score(panel, flat, panel.pcs[:3], flat[:3], ["A"] * 3)
    assert set(out.target) == set(adjusted_columns(list(Normalisation)))
    assert all(np.isnan(v).all() for v in out.target.values())


def test_methods_choose_the_columns() -> None:
    panel, score = _panel()
    out = adjust_score(panel, score, panel.pcs[:2], score[:2], ["A", "B"],
                       methods=Normalisation.parse_all("mean"))  # fmt: skip
    assert set(out.target) == {"Z_norm1"}
    with pytest.raises(ValueError, match="not a normalisation method"):
        Normalisation.parse_all("median")
