"""Population assignment on populations that are apart."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import EmpiricalCovariance

from vatti.pipelines.pgs.ancestry.extra import AncestryExtraMissing, need
from vatti.pipelines.pgs.ancestry.similarity import (
    Method,
    Reference,
    assign_populations,
    squared_mahalanobis,
)

pytestmark = pytest.mark.unit


def _reference(seed: int = 2) -> tuple[Reference, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centres = {"EUR": [0, 0, 0, 0, 0], "AFR": [8, 0, 0, 0, 0], "EAS": [0, 8, 0, 0, 0]}
    labels = [pop for pop in centres for _ in range(120)]
    pcs = np.array([centres[p] for p in labels], dtype=float) + rng.normal(size=(360, 5))
    truth = ["AFR", "EAS", "EUR", "AFR"]
    targets = np.array([centres[p] for p in truth], dtype=float) + rng.normal(size=(4, 5)) * 0.5
    return Reference(pcs, labels, np.ones(360, dtype=bool)), targets, truth


def test_mahalanobis_distance_is_sklearns() -> None:
    rng = np.random.default_rng(5)
    train, points = rng.normal(size=(200, 4)), rng.normal(size=(7, 4)) * 2
    expected = EmpiricalCovariance().fit(train).mahalanobis(points)
    assert squared_mahalanobis(train, points) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("method", list(Method))
def test_targets_get_the_population_they_come_from(method: Method) -> None:
    reference, targets, truth = _reference()
    ref_assign, target_assign = assign_populations(reference, targets, method=method)
    assert target_assign.most_similar == truth
    assert not target_assign.low_confidence.any()
    assert np.mean(np.array(ref_assign.most_similar) == np.array(reference.labels)) > 0.99
    prefix = "RF_P_" if method is Method.RANDOM_FOREST else "Mahalanobis_P_"
    assert all(name.startswith(prefix) for name in target_assign.columns)


def test_a_sample_far_from_every_population_has_low_confidence() -> None:
    reference, _, _ = _reference()
    far = np.full((1, 5), 40.0)
    _, assign = assign_populations(reference, far, method=Method.MAHALANOBIS)
    assert assign.low_confidence.tolist() == [True]


def test_the_random_forest_is_seeded() -> None:
    reference, targets, _ = _reference()
    noisy = targets + 3.0
    one = assign_populations(reference, noisy, seed=11)[1].columns
    two = assign_populations(reference, noisy, seed=11)[1].columns
    assert all(np.array_equal(one[k], two[k]) for k in one)


def test_a_missing_extra_says_how_to_install_it() -> None:
    with pytest.raises(AncestryExtraMissing, match=r"pip install 'vatti\[ancestry\]'"):
        need("sklearn_not_installed_here")
