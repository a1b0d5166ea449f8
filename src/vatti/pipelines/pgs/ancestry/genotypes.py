"""Genotype matrices for the PCA (the I/O edge of :mod:`.projection`): the allele counts of
chosen variants of a genotype file, through the pipeline's readers (PLINK 2, PLINK 1, VCF)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from vatti.pipelines.pgs.targets.base import GenotypeFile, open_reader

#: Variants read per block.
BLOCK = 4096


@dataclass(frozen=True)
class Genotypes:
    """``values`` (variants x samples, copies of the chosen allele; 0 where missing),
    ``missing`` (same shape) and the samples (``FID``, ``IID``)."""

    values: npt.NDArray[np.float64]
    missing: npt.NDArray[np.bool_]
    samples: pl.DataFrame


def read_genotypes(
    file: GenotypeFile, variant_idx: npt.NDArray[np.uint32], allele_idx: npt.NDArray[np.uint8]
) -> Genotypes:
    """The counts of allele ``allele_idx[i]`` of variant ``variant_idx[i]`` (sorted by
    variant) for every sample of ``file``."""
    with open_reader(file) as reader:
        samples = reader.read_samples().select("FID", "IID")
        n = samples.height
        values = np.empty((variant_idx.size, n), dtype=np.float64)
        missing = np.zeros((variant_idx.size, n), dtype=np.bool_)
        for block in reader.dosage_blocks(variant_idx, allele_idx, BLOCK):
            rows = block.values.shape[0]
            values[block.start : block.start + rows] = block.values
            flat = missing[block.start : block.start + rows].reshape(-1)
            flat[block.missing] = True
    return Genotypes(values, missing, samples)
