"""PLINK 2 file sets (``.pgen`` + ``.pvar[.zst]`` + ``.psam``), read with pgenlib.

Only the requested variants are decoded (``read_dosages_list`` on sorted indices, one call per
requested allele index in a block). Dosages stored in the ``.pgen`` are used when present, as
plink2 ``--score`` does. Multiallelic variants are read as allele codes (``read_alleles_list``)
and the copies of the requested allele counted, so any allele of any variant can be scored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from vatti.pipelines.pgs.targets.base import (
    NO_PARENT,
    ClosedOnExit,
    DosageBlock,
    GenotypeFile,
    check_requests,
    sample_frame,
)
from vatti.pipelines.pgs.targets.errors import TargetFormatError
from vatti.pipelines.pgs.targets.pvar import (
    allele_counts,
    read_allele_counts,
    read_pvar,
    read_text,
)
from vatti.pipelines.pgs.vocabulary import TargetFormat

_PGENLIB_MISSING = -9


def parse_psam(data: bytes, source: Path) -> pl.DataFrame:
    """The samples of a ``.psam`` (``#FID IID ...`` or ``#IID ...``, FID = IID then).

    ``PAT``/``MAT`` columns, when present, tell founders. A file without a ``#FID``/``#IID``
    header line is read like a ``.fam``.
    """
    lines = [line for line in data.decode().splitlines() if line and not line.startswith("##")]
    if not lines:
        return sample_frame([], [])
    header = lines[0].split()
    if header[0] in {"#FID", "#IID"}:
        names = [header[0][1:], *header[1:]]
        rows = [line.split() for line in lines[1:]]
    else:
        names = ["FID", "IID", "PAT", "MAT"]
        rows = [line.split()[:4] for line in lines]
    try:
        iid_at = names.index("IID")
    except ValueError:
        raise TargetFormatError(f"{source} has no IID column") from None
    if any(len(row) <= iid_at for row in rows):
        raise TargetFormatError(f"{source} has a line with fewer columns than its header")
    iids = [row[iid_at] for row in rows]
    fids = [row[names.index("FID")] for row in rows] if "FID" in names else iids
    parents = [names.index(c) for c in ("PAT", "MAT") if c in names]
    founders = [all(at >= len(row) or row[at] == NO_PARENT for at in parents) for row in rows]
    return sample_frame(fids, iids, founders)


def _allele_idx_offsets(counts: npt.NDArray[np.uint32]) -> npt.NDArray[np.uintp] | None:
    if counts.size == 0 or counts.max() <= 2:
        return None
    offsets = np.zeros(counts.size + 1, dtype=np.uintp)
    np.cumsum(counts, out=offsets[1:])
    return offsets


class PgenReader(ClosedOnExit):
    """Reader of a ``.pgen`` (or, with ``raw_sample_ct``, a PLINK 1 ``.bed``) through pgenlib."""

    def __init__(self, file: GenotypeFile) -> None:
        self.file = file
        self._variants: pl.DataFrame | None = None
        self._allele_cts: npt.NDArray[np.uint32] | None = None
        self._n_samples: int | None = None
        self._pgen: Any = None
        self._buffer: npt.NDArray[np.float64] | None = None

    # -- metadata ---------------------------------------------------------------------------
    def read_samples(self) -> pl.DataFrame:
        return parse_psam(read_text(self.file.samples), self.file.samples)

    def read_variants(self) -> pl.DataFrame:
        if self._variants is None:
            self._variants = read_pvar(self.file.variants)
        return self._variants

    def _allele_counts(self) -> npt.NDArray[np.uint32]:
        """Alleles per variant; for a ``.pvar`` without building the whole variant table."""
        if self._allele_cts is None:
            if self._variants is None and self.file.format is TargetFormat.PFILE:
                self._allele_cts = read_allele_counts(self.file.variants)
            else:
                self._allele_cts = allele_counts(self.read_variants()["alt"]).to_numpy()
        return self._allele_cts

    def _sample_count(self) -> int:
        if self._n_samples is None:
            self._n_samples = self.read_samples().height
        return self._n_samples

    def _open(self) -> Any:
        if self._pgen is None:
            import pgenlib

            counts = self._allele_counts()
            offsets = _allele_idx_offsets(counts)
            try:
                self._pgen = pgenlib.PgenReader(
                    str(self.file.geno).encode(),
                    raw_sample_ct=self._sample_count(),
                    variant_ct=counts.size,
                    allele_idx_offsets=offsets,
                )
            except RuntimeError as exc:
                raise TargetFormatError(f"cannot read {self.file.geno}: {exc}") from exc
        return self._pgen

    def fork(self) -> PgenReader:
        """A reader of the same file with its own pgenlib handle (pgenlib decodes without the
        GIL, so twins read side by side in threads)."""
        twin = type(self)(self.file)
        twin._variants = self._variants
        twin._allele_cts = self._allele_counts()
        twin._n_samples = self._sample_count()
        return twin

    # -- genotypes --------------------------------------------------------------------------
    def _multiallelic(self) -> npt.NDArray[np.bool_]:
        multi: npt.NDArray[np.bool_] = self._allele_counts() > 2
        return multi

    def dosage_blocks(
        self,
        variant_idx: npt.NDArray[np.uint32],
        allele_idx: npt.NDArray[np.uint8],
        block_size: int,
    ) -> Iterator[DosageBlock]:
        check_requests(variant_idx, allele_idx, self._allele_counts().size)
        pgen = self._open()
        n = self._sample_count()
        multi = self._multiallelic()
        for start in range(0, variant_idx.size, block_size):
            v = np.ascontiguousarray(variant_idx[start : start + block_size], dtype=np.uint32)
            a = allele_idx[start : start + block_size]
            is_multi = multi[v]
            if not is_multi.any():
                # reused, across calls too: a block is valid until the next one is asked for
                # (and one buffer a reader keeps threads' memory from growing, see .blockpool)
                if self._buffer is None or self._buffer.shape[0] < v.size:
                    self._buffer = np.empty((block_size, n), dtype=np.float64)
                out = self._buffer[: v.size]
                pgen.read_dosages_list(v, out, allele_idx=1)
            else:
                out = np.full((v.size, n), _PGENLIB_MISSING, dtype=np.float64)
                two = np.flatnonzero(~is_multi)
                if two.size:
                    part = np.empty((two.size, n), dtype=np.float64)
                    pgen.read_dosages_list(np.ascontiguousarray(v[two]), part, allele_idx=1)
                    out[two] = part
                self._read_multiallelic(pgen, v, a, np.flatnonzero(is_multi), out)
            block = DosageBlock.from_sentinel(start, out, _PGENLIB_MISSING)
            is_ref = (a == 0) & ~is_multi
            if is_ref.any():  # copies of REF = 2 - copies of ALT, missing calls stay 0
                for i in np.flatnonzero(is_ref):  # in place, row by row: no block copy
                    row = out[i]
                    np.subtract(2.0, row, out=row)
                hit = is_ref[block.missing // n]
                out.reshape(-1)[block.missing[hit]] = 0.0
            yield block

    @staticmethod
    def _read_multiallelic(
        pgen: Any,
        v: npt.NDArray[np.uint32],
        a: npt.NDArray[np.uint8],
        rows: npt.NDArray[np.intp],
        out: npt.NDArray[np.float64],
    ) -> None:
        n = out.shape[1]
        codes = np.empty((rows.size, 2 * n), dtype=np.int32)
        pgen.read_alleles_list(np.ascontiguousarray(v[rows]), codes)
        pairs = codes.reshape(rows.size, n, 2)
        counts = (pairs == a[rows].astype(np.int32)[:, None, None]).sum(axis=2)
        out[rows] = np.where((pairs < 0).any(axis=2), _PGENLIB_MISSING, counts)

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        if self._pgen is not None:
            self._pgen.close()
            self._pgen = None


__all__ = ["PgenReader", "parse_psam"]
