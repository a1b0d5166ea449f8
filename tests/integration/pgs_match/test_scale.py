"""Matching at the scale of a large score against an imputed-array target (speed: benchmarks/)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from vatti.pipelines.pgs.match import MatchOptions, match_variants

pytestmark = pytest.mark.integration

BASES = np.array(list("ACGT"))


def test_500k_scoring_rows_against_1m_target_variants() -> None:
    rng = np.random.default_rng(7)
    n_target, n_scoring = 1_000_000, 500_000
    pos = np.sort(rng.choice(200_000_000, n_target, replace=False))
    chrom = rng.integers(1, 23, n_target).astype(str)
    ref_code = rng.integers(0, 4, n_target)
    ref = BASES[ref_code]
    alt = BASES[(ref_code + rng.integers(1, 4, n_target)) % 4]
    target = pl.DataFrame(
        {
            "file_idx": np.zeros(n_target, dtype=np.uint32),
            "variant_idx": np.arange(n_target, dtype=np.uint32),
            "chrom": chrom,
            "pos": pos,
            "id": np.char.add("v", np.arange(n_target).astype(str)),
            "ref": ref,
            "alt": alt,
        }
    )
    pick = rng.choice(n_target, n_scoring, replace=False)
    swap = rng.random(n_scoring) < 0.5
    scoring = pl.DataFrame(
        {
            "accession": np.where(rng.random(n_scoring) < 0.5, "PGS_A", "PGS_B"),
            "row_nr": np.arange(n_scoring),
            "chr_name": chrom[pick],
            "chr_position": pos[pick],
            "effect_allele": np.where(swap, ref[pick], alt[pick]),
            "other_allele": np.where(swap, alt[pick], ref[pick]),
            "effect_weight": rng.normal(size=n_scoring),
            "effect_type": np.full(n_scoring, "additive"),
        }
    )
    ambiguous = ((ref == "A") & (alt == "T")) | ((ref == "T") & (alt == "A"))
    ambiguous |= ((ref == "C") & (alt == "G")) | ((ref == "G") & (alt == "C"))

    result = match_variants(scoring, target, MatchOptions(), "big")

    assert result.matched.height == n_scoring - int(ambiguous[pick].sum())
    # swapped rows count REF (allele 0), the others ALT (allele 1)
    kept = ~ambiguous[pick]
    assert result.matched.sort("row_nr")["allele_idx"].to_list() == list(np.where(swap[kept], 0, 1))
