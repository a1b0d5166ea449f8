"""The most similar reference population of each sample, from principal components (pure).

As ``pgscatalog-ancestry-adjust`` (pgscatalog.calc 0.3.1) does it:

* **RandomForest**: a forest (scikit-learn's defaults, ``random_state`` = :data:`RF_SEED`)
  trained on the unrelated reference samples' first ``n_pcs`` PCs and labels; each sample gets
  ``RF_P_<pop>`` (the forest's probabilities, populations sorted) and the predicted population;
  low confidence when its probability is below the threshold (default 0.5).
* **Mahalanobis**: per population (in the order they first appear in the reference), the
  squared Mahalanobis distance to the unrelated samples of that population (empirical
  covariance, ``ddof=0``) and ``Mahalanobis_P_<pop>``, its chi-square survival with
  ``n_pcs - 1`` degrees of freedom (pgsc_calc's choice); the most similar population has the
  largest p (the first on ties); low confidence below the threshold (default 1e-10).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vatti.pipelines.pgs.ancestry.extra import need

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

#: pgsc_calc's RandomForest seed.
RF_SEED = 32


class Method(enum.StrEnum):
    """How the most similar population is found (pgsc_calc's ``--ancestry_method``).

    >>> Method.parse("mahalanobis"), Method.parse("RandomForest")
    (<Method.MAHALANOBIS: 'Mahalanobis'>, <Method.RANDOM_FOREST: 'RandomForest'>)
    """

    RANDOM_FOREST = "RandomForest"
    MAHALANOBIS = "Mahalanobis"

    @classmethod
    def parse(cls, value: str) -> Method:
        for method in cls:
            if method.value.lower() == value.strip().lower():
                return method
        raise ValueError(f"{value!r} is not an ancestry method: RandomForest or Mahalanobis")

    @property
    def default_threshold(self) -> float:
        """The p under which a population assignment has low confidence."""
        return 0.5 if self is Method.RANDOM_FOREST else 1e-10


@dataclass(frozen=True)
class Assignment:
    """The populations of a set of samples: ``columns`` (name -> one value per sample, in
    pgsc_calc's names and order), ``most_similar`` and ``low_confidence``."""

    columns: dict[str, Floats]
    most_similar: list[str]
    low_confidence: Bools


def ordered_populations(labels: Sequence[str]) -> list[str]:
    """The distinct labels in the order they first appear.

    >>> ordered_populations(["EUR", "AFR", "EUR", "EAS"])
    ['EUR', 'AFR', 'EAS']
    """
    return list(dict.fromkeys(labels))


def squared_mahalanobis(train: Floats, points: Floats) -> Floats:
    """The squared Mahalanobis distance of each row of ``points`` to the rows of ``train``
    (their mean and ``ddof=0`` covariance, inverted as a pseudo-inverse).

    >>> train = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    >>> squared_mahalanobis(train, np.array([[1.0, 1.0], [3.0, 1.0]])).round(6).tolist()
    [0.0, 4.0]
    """
    centre = train.mean(axis=0)
    spread = train - centre
    covariance = spread.T @ spread / train.shape[0]
    precision = np.linalg.pinv(covariance, hermitian=True)
    offsets = points - centre
    return np.asarray(np.einsum("ij,jk,ik->i", offsets, precision, offsets), dtype=np.float64)


@dataclass(frozen=True)
class Reference:
    """The reference samples' PCs (``n`` x PCs), population labels and training mask (the
    unrelated samples)."""

    pcs: Floats
    labels: list[str]
    train: Bools

    def __post_init__(self) -> None:
        if not (self.pcs.shape[0] == len(self.labels) == self.train.shape[0]):
            raise ValueError("reference PCs, labels and training mask differ in length")
        if not self.train.any():
            raise ValueError("no unrelated reference sample to train on")


def assign_populations(
    reference: Reference,
    targets: Floats,
    *,
    n_pcs: int = 5,
    method: Method = Method.RANDOM_FOREST,
    p_threshold: float | None = None,
    seed: int = RF_SEED,
) -> tuple[Assignment, Assignment]:
    """The assignments of the reference samples and of the ``targets`` (rows of PCs)."""
    if not 1 <= n_pcs <= min(reference.pcs.shape[1], targets.shape[1]):
        raise ValueError(f"n_pcs={n_pcs} but there are {reference.pcs.shape[1]} PCs")
    threshold = method.default_threshold if p_threshold is None else p_threshold
    if not 0 < threshold < 1:
        raise ValueError(f"the p threshold must be in (0, 1), not {threshold}")
    ref_x = reference.pcs[:, :n_pcs]
    target_x = targets[:, :n_pcs]
    if method is Method.MAHALANOBIS:
        return (
            _mahalanobis(reference, ref_x, ref_x, n_pcs, threshold),
            _mahalanobis(reference, ref_x, target_x, n_pcs, threshold),
        )
    return _random_forest(reference, ref_x, (ref_x, target_x), threshold, seed)


def _mahalanobis(
    reference: Reference, ref_x: Floats, x: Floats, n_pcs: int, threshold: float
) -> Assignment:
    chi2 = need("scipy.stats").chi2
    labels = np.asarray(reference.labels, dtype=object)
    populations = ordered_populations(reference.labels)
    pvalues = np.empty((x.shape[0], len(populations)))
    for k, pop in enumerate(populations):
        rows = reference.train & (labels == pop)
        distance = squared_mahalanobis(ref_x[rows], x)
        pvalues[:, k] = chi2.sf(distance, n_pcs - 1)
    best = np.argmax(pvalues, axis=1)  # the first of equal maxima, as pandas' idxmax
    columns = {f"Mahalanobis_P_{pop}": pvalues[:, k] for k, pop in enumerate(populations)}
    best_p = pvalues[np.arange(x.shape[0]), best]
    return Assignment(columns, [populations[k] for k in best], best_p < threshold)


def _random_forest(
    reference: Reference,
    ref_x: Floats,
    sets: tuple[Floats, Floats],
    threshold: float,
    seed: int,
) -> tuple[Assignment, Assignment]:
    forest_class = need("sklearn.ensemble").RandomForestClassifier
    labels = np.asarray(reference.labels, dtype=str)
    forest = forest_class(random_state=seed)
    forest.fit(ref_x[reference.train], labels[reference.train])
    classes = [str(c) for c in forest.classes_]
    out: list[Assignment] = []
    for x in sets:
        proba = np.asarray(forest.predict_proba(x), dtype=np.float64)
        best = np.argmax(proba, axis=1)  # what predict() returns
        columns = {f"RF_P_{pop}": proba[:, k] for k, pop in enumerate(classes)}
        best_p = proba[np.arange(x.shape[0]), best]
        out.append(Assignment(columns, [classes[k] for k in best], best_p < threshold))
    return out[0], out[1]
