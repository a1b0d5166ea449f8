"""PLINK 1 file sets (``.bed`` + ``.bim[.zst]`` + ``.fam``), read with pgenlib.

pgenlib reads a SNP-major ``.bed`` directly when told the sample count, so this reader is the
PLINK 2 reader with the PLINK 1 sample and variant lists.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from vatti.pipelines.pgs.targets.errors import TargetFormatError
from vatti.pipelines.pgs.targets.plink2 import PgenReader
from vatti.pipelines.pgs.targets.pvar import read_bim, read_text


def parse_fam(data: bytes, source: Path) -> pl.DataFrame:
    """``FID``, ``IID`` from a ``.fam`` (whitespace-separated, no header)."""
    rows = [line.split() for line in data.decode().splitlines() if line.strip()]
    if any(len(row) < 2 for row in rows):
        raise TargetFormatError(f"{source} has a line with fewer than 2 columns")
    return pl.DataFrame(
        {"FID": [r[0] for r in rows], "IID": [r[1] for r in rows]},
        schema={"FID": pl.Utf8, "IID": pl.Utf8},
    )


class BedReader(PgenReader):
    """Reader of a PLINK 1 ``.bed``/``.bim``/``.fam`` set."""

    def read_samples(self) -> pl.DataFrame:
        return parse_fam(read_text(self.file.samples), self.file.samples)

    def read_variants(self) -> pl.DataFrame:
        if self._variants is None:
            self._variants = read_bim(self.file.variants)
        return self._variants
