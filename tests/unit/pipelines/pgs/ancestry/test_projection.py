"""The PCA and the online projection on small matrices whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from vatti.pipelines.pgs.ancestry.projection import (
    online_svd,
    procrustes,
    procrustes_wider,
    project,
    reference_pca,
    standardise,
)

pytestmark = pytest.mark.unit


def _genotypes(p: int, n: int, seed: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(0.1, 0.9, size=(p, 1))
    groups = np.repeat([0.0, 0.25], n // 2)[None, :]  # two populations: allele frequencies differ
    return rng.binomial(2, np.clip(freqs + groups * (freqs < 0.5), 0, 1)).astype(float)


def test_online_svd_of_a_full_decomposition_is_the_augmented_matrix_svd() -> None:
    rng = np.random.default_rng(1)
    x, b = rng.normal(size=(30, 8)), rng.normal(size=30)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    d2, v2 = online_svd(u, s, vt.T, b)
    expected = np.linalg.svd(np.column_stack([x, b]), compute_uv=False)
    assert d2 == pytest.approx(expected, rel=1e-10)
    assert v2.shape == (9, 8)


def test_procrustes_recovers_rotation_scale_and_shift() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=(50, 3))
    angle = 0.7
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    x = (y @ rotation.T) * 0.5 + 3.0
    r, rho, c = procrustes(y, x)
    assert x @ r * rho + c == pytest.approx(y, abs=1e-10)
    wide = np.hstack([x, rng.normal(size=(50, 2)) * 1e-3])
    r, rho, c = procrustes_wider(y, wide)
    assert (wide @ r * rho + c)[:, :3] == pytest.approx(y, abs=1e-2)


def test_missing_calls_count_as_the_reference_mean() -> None:
    g = _genotypes(40, 100)
    missing = np.zeros_like(g, dtype=bool)
    missing[3, 5] = True
    x, mean, _ = standardise(g, missing)
    assert x[3, 5] == 0.0
    assert mean[3] == pytest.approx(np.delete(g[3], 5).mean())


def test_a_reference_sample_projects_onto_itself_unshrunk() -> None:
    g = _genotypes(400, 200)
    missing = np.zeros_like(g, dtype=bool)
    pca = reference_pca(g[:, 1:], missing[:, 1:], dim_ref=2, dim_stu=4, dim_online=8)
    assert pca.pcs.shape == (199, 2)
    # a new sample of the first population lands among them on PC1, at their scale (a plain
    # projection onto the loadings would shrink it towards 0)
    new = project(pca, g[:, :1], missing[:, :1])
    first, second = pca.pcs[:99, 0], pca.pcs[99:, 0]
    assert abs(new[0, 0] - first.mean()) < abs(new[0, 0] - second.mean())
    assert 0.8 < new[0, 0] / first.mean() < 1.25
    with pytest.raises(ValueError, match="variants to project"):
        project(pca, g[:10, :1], missing[:10, :1])
