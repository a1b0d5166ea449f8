"""GT and DS decoding of VCF records (plink2 import rules)."""

from __future__ import annotations

import numpy as np
import pytest

from vatti.pipelines.pgs.targets.vcf import DOSAGE_RESOLUTION, ds_allele_dosage, gt_allele_dosage

pytestmark = pytest.mark.unit

# cyvcf2 genotype.array(): allele, allele, phased; -1 missing, -2 end of a haploid call
CODES = np.array(
    [
        [0, 0, 0],  # 0/0
        [0, 1, 1],  # 0|1
        [1, 1, 0],  # 1/1
        [2, 1, 0],  # 2/1
        [-1, -1, 0],  # ./.
        [-1, 1, 0],  # ./1 : half-missing is missing
        [1, -2, 0],  # haploid 1 counts as 1/1
    ],
    dtype=np.int16,
)


def test_gt_counts_of_each_allele() -> None:
    nan = np.nan
    np.testing.assert_array_equal(gt_allele_dosage(CODES, 0), [2, 1, 0, 0, nan, nan, 0])
    np.testing.assert_array_equal(gt_allele_dosage(CODES, 1), [0, 1, 2, 1, nan, nan, 2])
    np.testing.assert_array_equal(gt_allele_dosage(CODES, 2), [0, 0, 0, 1, nan, nan, 0])


def test_ds_is_rounded_to_plink2_resolution_and_ref_is_two_minus_alts() -> None:
    ds = np.array([[0.3], [1.0], [np.nan]], dtype=np.float32)
    alt = ds_allele_dosage(ds, 1)
    assert alt[0] == round(float(np.float32(0.3)) * DOSAGE_RESOLUTION) / DOSAGE_RESOLUTION
    assert alt[1] == 1.0
    assert np.isnan(alt[2])
    np.testing.assert_array_equal(ds_allele_dosage(ds, 0)[:2], 2.0 - alt[:2])


def test_ds_multiallelic_columns() -> None:
    ds = np.array([[0.5, 1.0]], dtype=np.float32)
    assert ds_allele_dosage(ds, 2).tolist() == [1.0]
    assert ds_allele_dosage(ds, 0).tolist() == [0.5]
