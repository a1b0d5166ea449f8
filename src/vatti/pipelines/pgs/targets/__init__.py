"""Target genotype readers: PLINK 2 (pgen/pvar/psam), PLINK 1 (bed/bim/fam) and VCF/BCF.

:mod:`.base` holds the shapes every reader shares; :func:`open_reader` picks the reader of a file.
"""

from __future__ import annotations

from vatti.pipelines.pgs.targets.base import (
    DosageBlock,
    GenotypeFile,
    GenotypeReader,
    Sampleset,
    open_reader,
    read_samples,
    read_variants,
)

__all__ = [
    "DosageBlock",
    "GenotypeFile",
    "GenotypeReader",
    "Sampleset",
    "open_reader",
    "read_samples",
    "read_variants",
]
