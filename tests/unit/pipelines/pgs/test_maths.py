"""plink2 --score rules on hand-computed tiny matrices.

The matrix used throughout (3 variants x 2 samples, copies of the scored allele):

    v0: [0, 2]    v1: [1, missing]    v2: [2, 1]        weights [1, 10, 100]

Sample 1 misses v1, whose frequency among the non-missing calls is 1 / 2 = 0.5.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from vatti.pipelines.pgs import maths
from vatti.pipelines.pgs.maths import (
    BlockWeights,
    ScoreTotals,
    allele_frequency,
    block_totals,
    finish,
    split_missing,
    transform,
    use_mean_imputation,
)
from vatti.pipelines.pgs.vocabulary import EffectType

pytestmark = pytest.mark.unit

NAN = np.nan
DOSAGE = np.array([[0.0, 2.0], [1.0, NAN], [2.0, 1.0]])
W = np.array([[1.0], [10.0], [100.0]])
ONE_SCORE = np.ones((3, 1))


def totals_of(dosage: np.ndarray, weights: BlockWeights, **kwargs: object) -> ScoreTotals:
    """block_totals on a NaN-coded matrix."""
    values, missing = split_missing(dosage)
    return block_totals(values, missing, weights, **kwargs)  # type: ignore[arg-type]


def _run(effect: EffectType, *, mean_impute: bool) -> tuple[list[float], list[int], list[int]]:
    totals = totals_of(DOSAGE, BlockWeights(ONE_SCORE, {effect: W}), mean_impute=mean_impute)
    result = finish(totals, mean_impute=mean_impute)
    return result.sums[:, 0].tolist(), result.allele_ct[:, 0].tolist(), result.denom[:, 0].tolist()


@pytest.mark.parametrize(
    ("effect", "mean_impute", "sums"),
    [
        # additive: s0 = 0*1 + 1*10 + 2*100; s1 = 2*1 + (missing) + 1*100
        (EffectType.ADDITIVE, False, [210.0, 102.0]),
        # the missing v1 call counts 2p = 1 copy
        (EffectType.ADDITIVE, True, [210.0, 112.0]),
        # dominant min(d, 1): v0 [0, 1], v1 [1, -], v2 [1, 1]
        (EffectType.DOMINANT, False, [110.0, 101.0]),
        # plink2 imputes p = 0.5 (not 2p, not 1 - (1 - p)^2) under dominant
        (EffectType.DOMINANT, True, [110.0, 106.0]),
        # recessive max(d - 1, 0): v0 [0, 1], v1 [0, -], v2 [1, 0]
        (EffectType.RECESSIVE, False, [100.0, 1.0]),
        (EffectType.RECESSIVE, True, [100.0, 6.0]),
    ],
)
def test_sums(effect: EffectType, mean_impute: bool, sums: list[float]) -> None:
    got, _, _ = _run(effect, mean_impute=mean_impute)
    assert got == pytest.approx(sums)


def test_allele_ct_counts_non_missing_calls_and_denom_follows_imputation() -> None:
    _, allele_ct, denom = _run(EffectType.ADDITIVE, mean_impute=True)
    assert allele_ct == [6, 4]
    assert denom == [6, 6]
    _, allele_ct, denom = _run(EffectType.ADDITIVE, mean_impute=False)
    assert allele_ct == [6, 4]
    assert denom == [6, 4]


def test_denom_counts_each_score_own_variants_even_with_zero_weight() -> None:
    # score A: all three variants; score B: v0 (weight 3) and v2 (weight 0)
    member = np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    weights = np.array([[1.0, 3.0], [10.0, 0.0], [100.0, 0.0]])
    totals = totals_of(
        DOSAGE, BlockWeights(member, {EffectType.ADDITIVE: weights}), mean_impute=False
    )
    result = finish(totals, mean_impute=False)
    assert result.sums.tolist() == [[210.0, 0.0], [102.0, 6.0]]
    assert result.allele_ct.tolist() == [[6, 4], [4, 4]]
    assert result.avg[:, 1].tolist() == [0.0, 1.5]


def test_effect_types_mix_across_scores_on_the_same_rows() -> None:
    member = np.ones((3, 2))
    additive = np.hstack([W, np.zeros((3, 1))])
    dominant = np.hstack([np.zeros((3, 1)), W])
    weights = BlockWeights(member, {EffectType.ADDITIVE: additive, EffectType.DOMINANT: dominant})
    result = finish(totals_of(DOSAGE, weights, mean_impute=True), mean_impute=True)
    np.testing.assert_allclose(result.sums, [[210.0, 110.0], [112.0, 106.0]])


def test_given_frequencies_replace_the_block_frequencies() -> None:
    freq = np.array([0.0, 0.25, 0.0])  # v1 imputes 2 * 0.25 = 0.5 copies
    totals = totals_of(
        DOSAGE,
        BlockWeights(ONE_SCORE, {EffectType.ADDITIVE: W}),
        mean_impute=True,
        freq=freq,
    )
    assert totals.sums[:, 0].tolist() == pytest.approx([210.0, 107.0])


def test_unknown_given_frequencies_fall_back_to_the_block_frequencies() -> None:
    # v1's reference frequency is unknown (NaN): it imputes from its own 0.5, 2 * 0.5 = 1 copy
    freq = np.array([0.9, NAN, 0.9])
    totals = totals_of(
        DOSAGE,
        BlockWeights(ONE_SCORE, {EffectType.ADDITIVE: W}),
        mean_impute=True,
        freq=freq,
    )
    assert totals.sums[:, 0].tolist() == pytest.approx([210.0, 112.0])


def test_blocks_add_up_to_the_whole() -> None:
    rng = np.random.default_rng(3)
    dosage = rng.integers(0, 3, size=(50, 7)).astype(np.float64)
    dosage[rng.random(dosage.shape) < 0.1] = NAN
    weights = rng.normal(size=(50, 4))
    member = (rng.random((50, 4)) < 0.7).astype(np.float64)
    weights *= member
    whole = totals_of(
        dosage, BlockWeights(member, {EffectType.ADDITIVE: weights}), mean_impute=False
    )
    parts = ScoreTotals.zeros(7, 4)
    for lo in range(0, 50, 16):
        sl = slice(lo, lo + 16)
        parts.add(
            totals_of(
                dosage[sl],
                BlockWeights(member[sl], {EffectType.ADDITIVE: weights[sl]}),
                mean_impute=False,
            )
        )
    np.testing.assert_allclose(parts.sums, whole.sums)
    np.testing.assert_array_equal(parts.missing, whole.missing)
    # and the sums are the explicit loop over non-missing calls
    explicit = np.nansum(dosage[:, :, None] * weights[:, None, :], axis=0)
    np.testing.assert_allclose(whole.sums, explicit)


def test_allele_frequency_and_transform() -> None:
    assert allele_frequency(*split_missing(DOSAGE)).tolist() == [0.5, 0.5, 0.75]
    assert np.isnan(transform(np.array([NAN]), EffectType.DOMINANT)[0])


def test_avg_is_nan_without_variants() -> None:
    result = finish(ScoreTotals.zeros(2, 1), mean_impute=False)
    assert np.isnan(result.avg).all()


def test_mean_imputation_rule() -> None:
    assert [use_mean_imputation(n) for n in (1, 49, 50, 2504)] == [False, False, True, True]


def test_doctests() -> None:
    result = doctest.testmod(maths)
    assert result.attempted > 0
    assert result.failed == 0
