"""The reference PCA and the projection of new samples onto it (numpy; threadpoolctl keeps
BLAS to one thread per sample), as FRAPOSA (``fraposa-pgsc`` 1.0.2, method ``oadp``)
computes them: online augmentation, decomposition and Procrustes analysis (Zhang, Dey & Lee
2020, doi:10.1093/bioinformatics/btaa152).

Genotypes are ``p`` variants x ``n`` samples of allele counts, with a mask of missing calls.

* Each reference variant is standardised by its mean and ``ddof=0`` sd over the non-missing
  calls (an sd of 0 counts as 1); a missing call becomes 0 after standardising.
* The reference PCA is the SVD of that matrix ``X = U diag(s) V^T``; the reference PCs are
  ``V[:, :dim_ref] * s[:dim_ref]``.
* A new sample ``b`` (standardised with the reference's means and sds) is added to the
  decomposition's first ``dim_online`` components by an online SVD update; the augmented
  reference's first ``dim_stu`` PCs are mapped onto the reference PCs by a Procrustes
  transformation (scaling, rotation, translation; iterated with the ``dim_stu - dim_ref``
  missing dimensions filled in, until they change by less than 1e-6 of their spread), which,
  applied to the new sample's augmented PCs, gives its ``dim_ref`` PCs.

pgsc_calc runs it with ``dim_ref=10`` (so ``dim_stu=20``, ``dim_online=40``). The signs of the
PCs are those of the decomposition: only their products with the loadings are defined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vatti.pipelines.pgs.ancestry.extra import need

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

#: FRAPOSA's Procrustes iteration: the relative change that stops it, and the most rounds.
PROCRUSTES_EPSILON = 1e-6
PROCRUSTES_MAX_ROUNDS = 10_000


def standardise(
    genotypes: Floats, missing: Bools, mean: Floats | None = None, sd: Floats | None = None
) -> tuple[Floats, Floats, Floats]:
    """``(X, mean, sd)``: genotypes standardised per variant (row), missing calls 0; the mean
    and sd are the non-missing calls' unless given.

    >>> g = np.array([[0.0, 1.0, 2.0, 9.0], [1.0, 1.0, 1.0, 1.0]])
    >>> x, mean, sd = standardise(g, g == 9.0)
    >>> mean.tolist(), sd.round(4).tolist(), x[0].round(4).tolist(), x[1].tolist()
    ([1.0, 1.0], [0.8165, 1.0], [-1.2247, 0.0, 1.2247, 0.0], [0.0, 0.0, 0.0, 0.0])
    """
    present = ~missing
    if mean is None or sd is None:
        counts = present.sum(axis=1)
        if (counts == 0).any():
            raise ValueError("a variant has no call in the reference")
        values = np.where(present, genotypes, 0.0)
        mean = values.sum(axis=1) / counts
        spread = np.where(present, genotypes - mean[:, None], 0.0)
        sd = np.sqrt((spread**2).sum(axis=1) / counts)
        sd[sd == 0] = 1.0
    x = (genotypes - mean[:, None]) / sd[:, None]
    x[missing] = 0.0
    return x, mean, sd


@dataclass(frozen=True)
class ReferencePca:
    """The reference's standardisation and decomposition (its first ``dim_online``
    components): ``U`` is ``p`` x ``dim_online``, ``V`` is ``n`` x ``dim_online``."""

    mean: Floats
    sd: Floats
    s: Floats
    U: Floats
    V: Floats
    dim_ref: int
    dim_stu: int

    @property
    def pcs(self) -> Floats:
        """The reference samples' PCs, ``n`` x ``dim_ref``."""
        return np.asarray(self.V[:, : self.dim_ref] * self.s[: self.dim_ref], dtype=np.float64)

    @property
    def dim_online(self) -> int:
        return int(self.s.size)


def reference_pca(
    genotypes: Floats,
    missing: Bools,
    *,
    dim_ref: int = 10,
    dim_stu: int | None = None,
    dim_online: int | None = None,
) -> ReferencePca:
    """The PCA of the reference genotypes (``p`` x ``n``)."""
    dim_stu = 2 * dim_ref if dim_stu is None else dim_stu
    dim_online = 2 * dim_stu if dim_online is None else dim_online
    if not 1 <= dim_ref <= dim_stu <= dim_online:
        raise ValueError("need 1 <= dim_ref <= dim_stu <= dim_online")
    p, n = genotypes.shape
    if min(p, n) < dim_online:
        raise ValueError(
            f"the reference has {p} variants x {n} samples: too few for {dim_online} components"
        )
    x, mean, sd = standardise(genotypes, missing)
    s, u, v = _top_svd(x, dim_online)
    return ReferencePca(mean, sd, s, u, v, dim_ref, dim_stu)


def _top_svd(x: Floats, k: int) -> tuple[Floats, Floats, Floats]:
    """The first ``k`` singular values and vectors of ``x``, from the eigendecomposition of
    its smaller Gram matrix (FRAPOSA decomposes ``X^T X``; ``X X^T`` when there are fewer
    variants than samples gives the same components, faster)."""
    p, n = x.shape
    if n <= p:
        eigenvalues, vectors = np.linalg.eigh(x.T @ x)
        order = np.argsort(eigenvalues)[::-1][:k]
        s = np.sqrt(np.abs(eigenvalues[order]))
        v = vectors[:, order]
        return s, x @ (v / s), v
    eigenvalues, vectors = np.linalg.eigh(x @ x.T)
    order = np.argsort(eigenvalues)[::-1][:k]
    s = np.sqrt(np.abs(eigenvalues[order]))
    u = vectors[:, order]
    v = x.T @ (u / s)
    # U again from V, as FRAPOSA derives it, so that U = X V / s holds to rounding
    return s, x @ (v / s), v


def procrustes(target: Floats, source: Floats) -> tuple[Floats, float, Floats]:
    """``(R, rho, c)`` with ``source @ R * rho + c`` closest to ``target`` (least squares;
    same shapes).

    >>> y = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    >>> r, rho, c = procrustes(y * 3 + 1, y)
    >>> np.allclose(y @ r * rho + c, y * 3 + 1), round(rho, 6)
    (True, 3.0)
    """
    x = np.array(source, dtype=np.float64, copy=True)
    y = np.array(target, dtype=np.float64, copy=True)
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    x -= x_mean
    y -= y_mean
    u, s, vt = np.linalg.svd(y.T @ x, full_matrices=False)
    rotation = vt.T @ u.T
    rho = float(np.sum(s) / np.sum(x**2))
    return rotation, rho, y_mean - rho * x_mean @ rotation


def procrustes_wider(target: Floats, source: Floats) -> tuple[Floats, float, Floats]:
    """:func:`procrustes` of a ``source`` with more columns than ``target``: the missing
    columns of the target are filled in by iterating (FRAPOSA's ``procrustes_diffdim``)."""
    n, p_source = source.shape
    p_target = target.shape[1]
    if p_source == p_target:
        return procrustes(target, source)
    fill = np.zeros((n, p_source - p_target))
    for _ in range(PROCRUSTES_MAX_ROUNDS):
        rotation, rho, c = procrustes(np.hstack((target, fill)), source)
        moved = source @ rotation * rho + c
        new_fill = moved[:, p_target:]
        centred = new_fill - new_fill.mean(axis=0)
        change = np.sum((new_fill - fill) ** 2) / np.sum(centred**2)
        if change < PROCRUSTES_EPSILON:
            break
        fill = new_fill
    return rotation, rho, c


def online_svd(u: Floats, d: Floats, v: Floats, b: Floats) -> tuple[Floats, Floats]:
    """The singular values and right vectors (``n + 1`` x ``k``) of ``[U diag(d) V^T, b]``
    from the rank-``k`` decomposition and the new column ``b`` (``p``)."""
    n, k = v.shape
    inside = u.T @ b
    residual = b - u @ inside
    residual = residual / np.sqrt(np.sum(residual**2))
    r = np.zeros((k + 1, k + 1))
    r[:k, :k] = np.diag(d)
    r[:k, k] = inside
    r[k, k] = residual @ b
    _, d2, r_vt = np.linalg.svd(r, full_matrices=False)
    v_new = np.zeros((k + 1, n + 1))
    v_new[:k, :n] = v.T
    v_new[k, n] = 1.0
    v2 = (r_vt @ v_new).T[:, :k]
    return d2, v2


def project_one(pca: ReferencePca, b: Floats) -> Floats:
    """The ``dim_ref`` PCs of one standardised sample ``b`` (``p``)."""
    d2, v2 = online_svd(pca.U, pca.s, pca.V, b)
    augmented = v2[:, : pca.dim_stu] * d2[: pca.dim_stu]
    rotation, rho, c = procrustes_wider(pca.pcs, augmented[:-1])
    placed = augmented[-1:] @ rotation * rho + c
    return np.asarray(placed.ravel()[: pca.dim_ref], dtype=np.float64)


def project(pca: ReferencePca, genotypes: Floats, missing: Bools) -> Floats:
    """The PCs (``m`` x ``dim_ref``) of new samples' genotypes (``p`` x ``m``, the reference's
    variants and alleles in its order)."""
    if genotypes.shape[0] != pca.mean.size:
        raise ValueError(
            f"{genotypes.shape[0]} variants to project, the reference PCA has {pca.mean.size}"
        )
    x, _, _ = standardise(genotypes, missing, pca.mean, pca.sd)
    out = np.empty((x.shape[1], pca.dim_ref))
    # one sample's algebra is on matrices of tens of rows: BLAS threads only cost there
    # (17x slower on two busy cores)
    with need("threadpoolctl").threadpool_limits(limits=1, user_api="blas"):
        for j in range(x.shape[1]):
            out[j] = project_one(pca, x[:, j])
    return out
