"""Polygenic score maths with plink2 ``--score`` semantics: arrays in, arrays out.

Shapes: a block holds ``k`` requests (one allele of one variant each) x ``n`` samples of dosages
(copies of the allele; missing calls hold 0 and are listed apart by their flat indices, see
:func:`split_missing`); weights are ``k`` x ``s`` scores.

The rules, as plink2 2.00a3.5 applies them (checked against it by the integration tests):

* **additive**: the dosage ``d``; **dominant**: ``min(d, 1)``; **recessive**: ``max(d - 1, 0)``.
* **mean imputation** (plink2's default): a missing call counts as the expected value of its
  allele from the allele frequency ``p`` (from the sampleset's founders, or given): ``2p`` for an
  additive variant, and ``p`` for a dominant or recessive one (plink2 halves the additive value
  rather than using the HWE expectation).
* **no-mean-imputation**: a missing call adds nothing.
* ``ALLELE_CT`` is twice the number of the sample's non-missing calls among the score's variants.
  ``DENOM`` is twice the number of the score's variants with mean imputation, and ``ALLELE_CT``
  without it. ``AVG = SUM / DENOM``.

Unlike plink2 run by the PGS Catalog Calculator, where ``ALLELE_CT``/``DENOM`` count every
variant of the split score file (so a score's average depends on which other scores shared the
file), ours count each score's own variants: ``AVG`` does not depend on the other scores of the
run. ``SUM`` is the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vatti.pipelines.pgs.vocabulary import EffectType

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

#: pgsc_calc mean-imputes when a sampleset has at least this many samples.
MIN_SAMPLES_FOR_MEAN_IMPUTATION = 50


def use_mean_imputation(n_samples: int, *, reference_freqs: bool = False) -> bool:
    """pgsc_calc's rule: mean imputation from 50 samples up, or whenever frequencies are given.

    >>> use_mean_imputation(49), use_mean_imputation(50)
    (False, True)
    >>> use_mean_imputation(3, reference_freqs=True)
    True
    """
    return reference_freqs or n_samples >= MIN_SAMPLES_FOR_MEAN_IMPUTATION


def split_missing(dosage: Floats) -> tuple[Floats, Ints]:
    """NaN-coded dosages to (values with missing calls at 0, sorted flat indices of the missing).

    >>> values, missing = split_missing(np.array([[0.0, np.nan], [np.nan, 2.0]]))
    >>> values.tolist(), missing.tolist()
    ([[0.0, 0.0], [0.0, 2.0]], [1, 2])
    """
    missing = np.flatnonzero(np.isnan(dosage)).astype(np.int64)
    values = dosage.copy()
    values.reshape(-1)[missing] = 0.0
    return values, missing


def allele_frequency(values: Floats, missing: Ints) -> Floats:
    """Frequency of each row's allele among its non-missing calls (0 when all are missing).

    >>> allele_frequency(*split_missing(np.array([[0.0, 1.0, np.nan], [np.nan, np.nan, np.nan]])))
    array([0.25, 0.  ])
    """
    k, n = values.shape
    present = n - np.bincount(missing // n, minlength=k)
    total = values.sum(axis=1)
    freq: Floats = np.divide(total, 2.0 * present, out=np.zeros(k), where=present > 0)
    return freq


def transform(dosage: Floats, effect: EffectType) -> Floats:
    """Apply the effect model to dosages (NaN stays NaN).

    >>> transform(np.array([0.0, 0.5, 1.0, 1.5, 2.0]), EffectType.DOMINANT).tolist()
    [0.0, 0.5, 1.0, 1.0, 1.0]
    >>> transform(np.array([0.0, 0.5, 1.0, 1.5, 2.0]), EffectType.RECESSIVE).tolist()
    [0.0, 0.0, 0.0, 0.5, 1.0]
    """
    if effect is EffectType.DOMINANT:
        return np.minimum(dosage, 1.0)
    if effect is EffectType.RECESSIVE:
        return np.maximum(dosage - 1.0, 0.0)
    return dosage


def imputed_value(freq: Floats, effect: EffectType) -> Floats:
    """What a missing call counts for under mean imputation (plink2's choice, see module doc)."""
    return 2.0 * freq if effect is EffectType.ADDITIVE else freq.copy()


@dataclass(frozen=True)
class BlockWeights:
    """Weights of a block of requests: one ``k`` x ``s`` matrix per effect type present.

    ``member[i, j]`` counts the matched rows of score ``j`` that read request ``i`` (usually 0 or
    1; a zero weight still counts); it decides ``ALLELE_CT`` and ``DENOM``.
    """

    member: Floats
    by_effect: dict[EffectType, Floats]


@dataclass
class ScoreTotals:
    """Running totals over blocks, ``n`` samples x ``s`` scores."""

    sums: Floats
    missing: npt.NDArray[np.int64]
    variants: npt.NDArray[np.int64]  # per score

    @classmethod
    def zeros(cls, n_samples: int, n_scores: int) -> ScoreTotals:
        return cls(
            np.zeros((n_samples, n_scores)),
            np.zeros((n_samples, n_scores), dtype=np.int64),
            np.zeros(n_scores, dtype=np.int64),
        )

    def add(self, other: ScoreTotals) -> None:
        self.sums += other.sums
        self.missing += other.missing
        self.variants += other.variants


def _missing_freq(
    values: Floats, missing: Ints, founders: Bools | None = None
) -> tuple[Ints, Floats]:
    """Rows with a missing call, and each one's allele frequency among its non-missing calls
    (of the ``founders`` only, when given, as plink2 counts frequencies).

    >>> values, missing = split_missing(np.array([[2.0, np.nan, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]]))
    >>> _missing_freq(values, missing)
    (array([0]), array([0.5]))
    >>> _missing_freq(values, missing, np.array([True, True, True, False]))
    (array([0]), array([0.75]))
    """
    k, n = values.shape
    row_of = missing // n  # sorted, as ``missing`` is
    first = np.flatnonzero(np.diff(row_of, prepend=-1))
    rows = row_of[first]
    if founders is None:
        present = n - np.diff(first, append=row_of.size)
        total = values.sum(axis=1)[rows] if 4 * rows.size > k else values[rows].sum(axis=1)
    else:
        absent = np.add.reduceat(founders[missing % n].astype(np.int64), first)
        present = int(founders.sum()) - absent
        total = values[rows] @ founders.astype(np.float64)
    freq: Floats = np.divide(total, 2.0 * present, out=np.zeros(rows.size), where=present > 0)
    return rows, freq


def block_totals(
    values: Floats,
    missing: Ints,
    weights: BlockWeights,
    *,
    mean_impute: bool,
    freq: Floats | None = None,
    founders: Bools | None = None,
) -> ScoreTotals:
    """One block's share: ``SUM`` per sample and score, missing calls, variants per score.

    ``values`` hold 0 at the missing calls, whose flat indices are ``missing``
    (:func:`split_missing`). ``freq`` (per request, e.g. from a reference panel) replaces the
    block's own allele frequencies for mean imputation; where it is NaN the block's own is used,
    counted over the ``founders`` (a mask of the samples; None: all of them).
    """
    k, n = values.shape
    s = weights.member.shape[1]
    sums_t = np.zeros((s, n))  # scores x samples: ``w.T @ values`` streams values row-major
    for effect, w in weights.by_effect.items():
        rows = np.flatnonzero(w.any(axis=1))
        if rows.size == 0:
            continue
        if rows.size == k:
            sums_t += np.ascontiguousarray(w.T) @ transform(values, effect)
        else:
            sums_t += np.ascontiguousarray(w[rows].T) @ transform(values[rows], effect)
    sums = np.ascontiguousarray(sums_t.T)
    miss_ct = np.zeros((n, s), dtype=np.int64)
    if missing.size:
        # Missing calls are rare: visit only them. Each adds its request's membership to the
        # sample's missing count and, with mean imputation, the imputed value times the weight.
        req, sample = np.divmod(missing, n)
        if mean_impute:
            given = None if freq is None else np.asarray(freq, dtype=np.float64)
            if given is not None and not np.isnan(given).any():
                p = given
            else:
                rows, row_freq = _missing_freq(values, missing, founders)
                p = np.zeros(k)
                p[rows] = row_freq
                if given is not None:
                    known = ~np.isnan(given)
                    p[known] = given[known]
            imputed = np.zeros((k, s))
            for effect, w in weights.by_effect.items():
                imputed += imputed_value(p, effect)[:, None] * w
            extra = imputed[req]
        member = weights.member[req]
        for j in range(s):
            miss_ct[:, j] = np.rint(np.bincount(sample, member[:, j], minlength=n))
            if mean_impute:
                sums[:, j] += np.bincount(sample, extra[:, j], minlength=n)
    return ScoreTotals(sums, miss_ct, weights.member.sum(axis=0).astype(np.int64))


@dataclass(frozen=True)
class ScoreResult:
    """Final per sample x score arrays, as plink2 reports them."""

    sums: Floats
    allele_ct: npt.NDArray[np.int64]
    denom: npt.NDArray[np.int64]

    @property
    def avg(self) -> Floats:
        avg: Floats = np.divide(
            self.sums, self.denom, out=np.full(self.sums.shape, np.nan), where=self.denom > 0
        )
        return avg


def finish(totals: ScoreTotals, *, mean_impute: bool) -> ScoreResult:
    """Turn running totals into ``SUM``, ``ALLELE_CT`` and ``DENOM``."""
    allele_ct = 2 * (totals.variants[None, :] - totals.missing)
    if mean_impute:
        denom = np.broadcast_to(2 * totals.variants[None, :], allele_ct.shape).copy()
    else:
        denom = allele_ct.copy()
    return ScoreResult(totals.sums.copy(), allele_ct, denom)
