"""A score relative to the reference panel (pure), as ``pgscatalog-ancestry-adjust``
(pgscatalog.calc 0.3.1) computes it; only the unrelated reference samples (the training set)
shape the distributions and models.

* ``empirical``: ``percentile_MostSimilarPop`` (scipy's ``percentileofscore``, kind ``rank``)
  and ``Z_MostSimilarPop`` (``(x - mean) / sd``, ``ddof=0``) within the sample's population: a
  reference sample's own label, a target's most similar population.
* ``mean`` (Khera et al. 2019): with the PCs standardised and the score centred on the training
  set, ``Z_norm1`` is the residual of a linear regression of the score on ``n_pcs`` PCs over the
  training residuals' sd.
* ``mean+var`` (Khan et al. 2022): ``Z_norm2`` also models the residual variance, a gamma
  regression (log link, scikit-learn's ``GammaRegressor`` with its default L2 penalty) on the
  PCs as the start of a joint maximum-likelihood fit of mean and variance (BFGS, analytic
  gradient): ``(x - mu) / sqrt(var)``.

A score with no variance across the reference gets NaN in every adjusted column.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from vatti.pipelines.pgs.ancestry.extra import need
from vatti.pipelines.pgs.ancestry.similarity import ordered_populations

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


class Normalisation(enum.StrEnum):
    """pgsc_calc's ``--normalization_method`` values.

    >>> [m.value for m in Normalisation.parse_all("empirical mean, MEAN+VAR")]
    ['empirical', 'mean', 'mean+var']
    """

    EMPIRICAL = "empirical"
    MEAN = "mean"
    MEAN_VAR = "mean+var"

    @classmethod
    def parse_all(cls, values: str | Iterable[str]) -> tuple[Normalisation, ...]:
        words = values.replace(",", " ").split() if isinstance(values, str) else list(values)
        out: list[Normalisation] = []
        for word in words:
            try:
                method = cls(word.strip().lower())
            except ValueError:
                raise ValueError(
                    f"{word!r} is not a normalisation method: empirical, mean or mean+var"
                ) from None
            if method not in out:
                out.append(method)
        if not out:
            raise ValueError("no normalisation method given")
        return tuple(out)


ALL_METHODS = (Normalisation.EMPIRICAL, Normalisation.MEAN, Normalisation.MEAN_VAR)

#: The adjusted columns in pgsc_calc's names, each with the method that makes it.
COLUMNS = (
    ("percentile_MostSimilarPop", Normalisation.EMPIRICAL),
    ("Z_MostSimilarPop", Normalisation.EMPIRICAL),
    ("Z_norm1", Normalisation.MEAN),
    ("Z_norm2", Normalisation.MEAN_VAR),
)


def adjusted_columns(methods: Sequence[Normalisation]) -> list[str]:
    """The adjusted columns ``methods`` write (``mean+var`` implies ``Z_norm1``, as pgsc_calc).

    >>> adjusted_columns([Normalisation.MEAN_VAR])
    ['Z_norm1', 'Z_norm2']
    """
    wanted = set(methods)
    if Normalisation.MEAN_VAR in wanted:
        wanted.add(Normalisation.MEAN)
    return [name for name, method in COLUMNS if method in wanted]


def percentile_of(distribution: Floats, values: Floats) -> Floats:
    """The percentile rank of each value in ``distribution`` (scipy's ``percentileofscore``
    with ``kind="rank"``: ties take their mean rank).

    >>> percentile_of(np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 0.0, 2.5])).tolist()
    [75.0, 0.0, 50.0]
    """
    ordered = np.sort(distribution)
    left = np.searchsorted(ordered, values, side="left")
    right = np.searchsorted(ordered, values, side="right")
    plus1 = (left < right).astype(np.float64)
    return np.asarray((left + right + plus1) * (50.0 / ordered.size), dtype=np.float64)


@dataclass
class Adjusted:
    """The adjusted columns of one score: name -> values for the reference and the targets,
    and what the models learnt (for ``*_info.json.gz``)."""

    reference: dict[str, Floats] = field(default_factory=dict)
    target: dict[str, Floats] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Panel:
    """The reference samples: PCs (``n`` x PCs), labels, training mask (unrelated)."""

    pcs: Floats
    labels: list[str]
    train: Bools


def adjust_score(
    panel: Panel,
    ref_score: Floats,
    target_pcs: Floats,
    target_score: Floats,
    target_pops: Sequence[str],
    *,
    methods: Sequence[Normalisation] = ALL_METHODS,
    n_pcs: int = 4,
) -> Adjusted:
    """The adjusted columns (:func:`adjusted_columns`) of one score."""
    if not 1 <= n_pcs <= min(panel.pcs.shape[1], target_pcs.shape[1]):
        raise ValueError(f"n_pcs={n_pcs} but there are {panel.pcs.shape[1]} PCs")
    names = adjusted_columns(methods)
    out = Adjusted()
    if np.var(ref_score) == 0:
        nan_ref, nan_target = np.full(ref_score.size, np.nan), np.full(target_score.size, np.nan)
        out.reference = {name: nan_ref.copy() for name in names}
        out.target = {name: nan_target.copy() for name in names}
        return out
    if Normalisation.EMPIRICAL in methods:
        _empirical(panel, ref_score, target_score, target_pops, out)
    if "Z_norm1" in names:
        _pc_regression(panel, ref_score, target_pcs, target_score, n_pcs, "Z_norm2" in names, out)
    return out


def _empirical(
    panel: Panel,
    ref_score: Floats,
    target_score: Floats,
    target_pops: Sequence[str],
    out: Adjusted,
) -> None:
    ref_labels = np.asarray(panel.labels, dtype=object)
    target_labels = np.asarray(list(target_pops), dtype=object)
    columns = {
        side: {
            "percentile_MostSimilarPop": np.full(n, np.nan),
            "Z_MostSimilarPop": np.full(n, np.nan),
        }
        for side, n in (("reference", ref_score.size), ("target", target_score.size))
    }
    models: dict[str, Any] = {}
    for pop in ordered_populations(panel.labels):
        dist = ref_score[panel.train & (ref_labels == pop)]
        mean, sd = float(dist.mean()), float(dist.std(ddof=0))
        for side, labels, score in (
            ("reference", ref_labels, ref_score),
            ("target", target_labels, target_score),
        ):
            rows = labels == pop
            columns[side]["percentile_MostSimilarPop"][rows] = percentile_of(dist, score[rows])
            with np.errstate(divide="ignore", invalid="ignore"):
                columns[side]["Z_MostSimilarPop"][rows] = (score[rows] - mean) / sd
        models[pop] = {
            "percentiles": np.percentile(dist, range(101)).tolist(),
            "mean": mean,
            "std": sd,
        }
    out.reference.update(columns["reference"])
    out.target.update(columns["target"])
    out.models["dist_empirical"] = models


def _standardised(panel: Panel, target_pcs: Floats, n_pcs: int) -> tuple[Floats, Floats, Floats]:
    """The first ``n_pcs`` PCs of the training set, the whole reference and the targets,
    standardised with the training set's mean and ``ddof=0`` sd."""
    train = panel.pcs[panel.train, :n_pcs]
    mean, sd = train.mean(axis=0), train.std(axis=0, ddof=0)
    return (
        (train - mean) / sd,
        (panel.pcs[:, :n_pcs] - mean) / sd,
        (target_pcs[:, :n_pcs] - mean) / sd,
    )


def _pc_regression(
    panel: Panel,
    ref_score: Floats,
    target_pcs: Floats,
    target_score: Floats,
    n_pcs: int,
    with_variance: bool,
    out: Adjusted,
) -> None:
    train_x, ref_x, target_x = _standardised(panel, target_pcs, n_pcs)
    offset = float(ref_score[panel.train].mean())
    train_y = ref_score[panel.train] - offset
    ref_y, target_y = ref_score - offset, target_score - offset
    # ordinary least squares with an intercept (scikit-learn's LinearRegression)
    design = np.column_stack([np.ones(train_x.shape[0]), train_x])
    beta: Floats = np.asarray(np.linalg.lstsq(design, train_y, rcond=None)[0], dtype=np.float64)
    resid = train_y - _mu(train_x, beta)
    resid_sd = float(resid.std(ddof=0))
    ref_resid, target_resid = ref_y - _mu(ref_x, beta), target_y - _mu(target_x, beta)
    out.reference["Z_norm1"] = ref_resid / resid_sd
    out.target["Z_norm1"] = target_resid / resid_sd
    models: dict[str, Any] = {
        "pgs_offset": offset,
        "Z_norm1": {"intercept": float(beta[0]), "coef": beta[1:].tolist()},
    }
    if with_variance:
        gamma = need("sklearn.linear_model").GammaRegressor(max_iter=1000)
        gamma.fit(train_x, (resid - resid.mean()) ** 2)
        start = np.concatenate([beta, [gamma.intercept_], gamma.coef_])
        theta, fit = _joint_fit(train_x, train_y, start)
        n_mu = 1 + n_pcs
        mu_beta, var_beta = theta[:n_mu], theta[n_mu:]
        out.reference["Z_norm2"] = (ref_y - _mu(ref_x, mu_beta)) / np.sqrt(_var(ref_x, var_beta))
        out.target["Z_norm2"] = (target_y - _mu(target_x, mu_beta)) / np.sqrt(
            _var(target_x, var_beta)
        )
        models["Z_norm2"] = {
            "mu_intercept": float(mu_beta[0]),
            "mu_coef": mu_beta[1:].tolist(),
            "var_intercept": float(var_beta[0]),
            "var_coef": var_beta[1:].tolist(),
            "success": bool(fit.success),
            "message": str(fit.message),
        }
    out.models["adjust_pcs"] = models


def _mu(x: Floats, beta: Floats) -> Floats:
    return np.asarray(beta[0] + x @ beta[1:], dtype=np.float64)


def _var(x: Floats, beta: Floats) -> Floats:
    return np.asarray(np.exp(beta[0] + x @ beta[1:]), dtype=np.float64)


def _joint_fit(x: Floats, y: Floats, start: Floats) -> tuple[Floats, Any]:
    """Mean and log-variance regressions fitted together by maximum likelihood (normal errors),
    from ``start`` = (mean intercept, mean coefficients, variance intercept, coefficients)."""
    n_mu = 1 + x.shape[1]

    def negative_log_likelihood(theta: Floats) -> float:
        var = _var(x, theta[n_mu:])
        return float(np.sum(np.log(np.sqrt(var)) + 0.5 * (y - _mu(x, theta[:n_mu])) ** 2 / var))

    def gradient(theta: Floats) -> Floats:
        var = _var(x, theta[n_mu:])
        resid = y - _mu(x, theta[:n_mu])
        mu_coeff = -resid / var
        sig_coeff = (1 / (2 * var) - 0.5 * resid**2 / var**2) * var
        return np.concatenate([[mu_coeff.sum()], mu_coeff @ x, [sig_coeff.sum()], sig_coeff @ x])

    fit = need("scipy.optimize").minimize(
        negative_log_likelihood,
        start,
        method="BFGS",
        jac=gradient,
        options={"maxiter": 1000},
    )
    return np.asarray(fit.x, dtype=np.float64), fit
