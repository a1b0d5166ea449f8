"""PLINK 1 file sets (``.bed`` + ``.bim[.zst]`` + ``.fam``), read with pgenlib.

pgenlib reads a SNP-major ``.bed`` directly when told the sample count, so this reader is the
PLINK 2 reader with the PLINK 1 sample and variant lists.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from vatti.pipelines.pgs.targets.base import NO_PARENT, sample_frame
from vatti.pipelines.pgs.targets.errors import TargetFormatError
from vatti.pipelines.pgs.targets.plink2 import PgenReader
from vatti.pipelines.pgs.targets.pvar import read_bim, read_text


def parse_fam(data: bytes, source: Path) -> pl.DataFrame:
    """The samples of a ``.fam`` (``FID IID PAT MAT SEX PHENO``, whitespace-separated)."""
    rows = [line.split() for line in data.decode().splitlines() if line.strip()]
    if any(len(row) < 2 for row in rows):
        raise TargetFormatError(f"{source} has a line with fewer than 2 columns")
    founders = [all(parent == NO_PARENT for parent in r[2:4]) for r in rows]
    return sample_frame([r[0] for r in rows], [r[1] for r in rows], founders)


class BedReader(PgenReader):
    """Reader of a PLINK 1 ``.bed``/``.bim``/``.fam`` set."""

    def read_samples(self) -> pl.DataFrame:
        return parse_fam(read_text(self.file.samples), self.file.samples)

    def read_variants(self) -> pl.DataFrame:
        if self._variants is None:
            self._variants = read_bim(self.file.variants)
        return self._variants
