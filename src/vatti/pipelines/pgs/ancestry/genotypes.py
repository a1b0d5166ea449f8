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


def count_samples(file: GenotypeFile) -> int:
    with open_reader(file) as reader:
        return int(reader.read_samples().height)


def read_genotypes(
    file: GenotypeFile,
    variant_idx: npt.NDArray[np.uint32],
    allele_idx: npt.NDArray[np.uint8],
    samples: slice | None = None,
) -> Genotypes:
    """The counts of allele ``allele_idx[i]`` of variant ``variant_idx[i]`` (sorted by
    variant) for the ``samples`` (a range of them; default all) of ``file``."""
    with open_reader(file) as reader:
        table = reader.read_samples().select("FID", "IID")
        n = table.height
        cols = samples or slice(0, n)
        table = table[cols]
        values = np.empty((variant_idx.size, table.height), dtype=np.float64)
        missing = np.zeros((variant_idx.size, table.height), dtype=np.bool_)
        for block in reader.dosage_blocks(variant_idx, allele_idx, BLOCK):
            rows = block.values.shape[0]
            values[block.start : block.start + rows] = block.values[:, cols]
            mask = np.zeros(block.values.shape, dtype=np.bool_)
            mask.reshape(-1)[block.missing] = True
            missing[block.start : block.start + rows] = mask[:, cols]
    return Genotypes(values, missing, table)
