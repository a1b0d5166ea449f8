"""BGEN v1.2 targets (UK Biobank's imputed genotypes), read streaming from the file itself.

A ``.bgen`` holds its variants and their genotype probabilities, and often its sample ids; a
``.sample`` beside it (Oxford format: ``ID_1 ID_2 missing ...``, a type line, one sample a line)
gives the samples instead when the target names one. Layout 2 (BGEN v1.2 and v1.3) is read,
uncompressed, zlib or zstd, any bit depth; layout 1 (v1.1) is refused.

Samples follow plink2's import: the IID is the ``.sample`` ``ID_2`` (the file's own id when
there is no ``.sample``), and the FID is ``ID_1``, or the IID when ``ID_1`` is ``0``. Variants
are named by their rsid (the SNPID when the rsid is empty), the first allele is REF (plink2
``ref-first``). A dosage is the expected count of the requested allele, from the genotype
probabilities (phased or not), rounded to plink2's resolution of 1/16384; a call flagged
missing is missing. Calls must be diploid.

Reading the variants walks the file once, keeping where each genotype block starts; scoring
seeks to the requested ones and decodes only those.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from math import comb
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import polars as pl

from vatti.pipelines.pgs.targets.base import (
    ClosedOnExit,
    DosageBlock,
    GenotypeFile,
    check_requests,
    normalise_chrom,
    sample_frame,
)
from vatti.pipelines.pgs.targets.errors import TargetFormatError
from vatti.pipelines.pgs.targets.vcf import DOSAGE_RESOLUTION

_MAGIC = b"bgen"
_NO_FID = "0"
_MISSING = -9.0
_COMPRESSION = {0: "none", 1: "zlib", 2: "zstd"}


@dataclass(frozen=True)
class BgenHeader:
    """What the header block of a BGEN file says."""

    first_variant: int
    n_variants: int
    n_samples: int
    compression: int
    layout: int
    sample_ids: tuple[str, ...] | None


def _unpack(fmt: str, data: bytes, path: Path) -> tuple[int, ...]:
    try:
        return struct.unpack(fmt, data)
    except struct.error:
        raise TargetFormatError(f"{path}: truncated BGEN file") from None


def read_header(handle: BinaryIO, path: Path) -> BgenHeader:
    """The header block (and sample identifier block) of an open BGEN file."""
    (offset,) = _unpack("<I", handle.read(4), path)
    header = handle.read(20)
    length, n_variants, n_samples = _unpack("<III", header[:12], path)
    if header[12:16] not in (_MAGIC, b"\0\0\0\0") or length < 20:
        raise TargetFormatError(f"{path} is not a BGEN file (no 'bgen' magic number)")
    handle.seek(4 + length - 4)
    (flags,) = _unpack("<I", handle.read(4), path)
    compression, layout = flags & 0x3, (flags >> 2) & 0xF
    if layout != 2:
        raise TargetFormatError(
            f"{path}: BGEN layout {layout} (v1.1 or older) is not supported; convert it to "
            "BGEN v1.2 (layout 2), e.g. with qctool or plink2 --export bgen-1.2"
        )
    if compression not in _COMPRESSION:
        raise TargetFormatError(f"{path}: unknown BGEN compression code {compression}")
    sample_ids: tuple[str, ...] | None = None
    if flags >> 31:
        handle.seek(4 + length)
        (block, count) = _unpack("<II", handle.read(8), path)
        data = handle.read(block - 8)
        if count != n_samples or len(data) != block - 8:
            raise TargetFormatError(f"{path}: its sample identifier block is damaged")
        ids: list[str] = []
        at = 0
        for _ in range(count):
            (size,) = _unpack("<H", data[at : at + 2], path)
            ids.append(data[at + 2 : at + 2 + size].decode())
            at += 2 + size
        sample_ids = tuple(ids)
    return BgenHeader(4 + offset, n_variants, n_samples, compression, layout, sample_ids)


def parse_sample_file(data: bytes, source: Path) -> pl.DataFrame:
    """The samples of an Oxford ``.sample`` file (FID = ``ID_1``, or the IID when it is 0)."""
    lines = [line.split() for line in data.decode().splitlines() if line.strip()]
    if len(lines) < 2 or lines[0][:2] != ["ID_1", "ID_2"]:
        raise TargetFormatError(
            f"{source} is not an Oxford .sample file (its first line must start ID_1 ID_2)"
        )
    rows = lines[2:]  # the second line gives the column types
    if any(len(row) < 2 for row in rows):
        raise TargetFormatError(f"{source} has a line with fewer than 2 columns")
    iids = [row[1] for row in rows]
    fids = [iid if row[0] == _NO_FID else row[0] for row, iid in zip(rows, iids, strict=True)]
    return sample_frame(fids, iids)


def _read_string(handle: BinaryIO, width: str, path: Path) -> str:
    size_bytes = handle.read(2 if width == "H" else 4)
    (size,) = _unpack(f"<{width}", size_bytes, path)
    data = handle.read(size)
    if len(data) != size:
        raise TargetFormatError(f"{path}: truncated BGEN file")
    return data.decode()


def scan_variants(
    handle: BinaryIO, header: BgenHeader, path: Path
) -> tuple[pl.DataFrame, npt.NDArray[np.int64]]:
    """Every variant, in file order, and where its genotype block starts."""
    handle.seek(header.first_variant)
    chroms: list[str] = []
    positions: list[int] = []
    ids: list[str] = []
    refs: list[str] = []
    alts: list[str] = []
    starts = np.empty(header.n_variants, dtype=np.int64)
    for k in range(header.n_variants):
        snpid = _read_string(handle, "H", path)
        rsid = _read_string(handle, "H", path)
        chroms.append(_read_string(handle, "H", path))
        position, n_alleles = _unpack("<IH", handle.read(6), path)
        alleles = [_read_string(handle, "I", path) for _ in range(n_alleles)]
        if n_alleles < 2:
            raise TargetFormatError(f"{path}: variant {rsid or snpid} has fewer than 2 alleles")
        positions.append(position)
        ids.append(rsid or snpid)
        refs.append(alleles[0])
        alts.append(",".join(alleles[1:]))
        starts[k] = handle.tell()
        (size,) = _unpack("<I", handle.read(4), path)
        handle.seek(size, 1)
    variants = pl.DataFrame(
        {
            "variant_idx": pl.int_range(0, header.n_variants, eager=True, dtype=pl.UInt32),
            "chrom": pl.Series(chroms, dtype=pl.Utf8),
            "pos": pl.Series(positions, dtype=pl.Int64),
            "id": pl.Series(ids, dtype=pl.Utf8),
            "ref": pl.Series(refs, dtype=pl.Utf8),
            "alt": pl.Series(alts, dtype=pl.Utf8),
        }
    )
    # BGEN writers spell chromosome 1 as "01" too
    chrom = normalise_chrom(pl.col("chrom")).str.replace(r"^0+([1-9])", "$1")
    return variants.with_columns(chrom=chrom), starts


def _unpack_bits(data: bytes, count: int, bits: int) -> npt.NDArray[np.float64]:
    """``count`` unsigned integers of ``bits`` bits each, packed little-endian, as fractions of
    the largest one (BGEN's probability encoding)."""
    need = (count * bits + 7) // 8
    if len(data) < need:
        raise ValueError("probability data shorter than its header says")
    if bits in (8, 16, 32):
        dtype = np.dtype({8: "u1", 16: "<u2", 32: "<u4"}[bits])
        raw: npt.NDArray[np.float64] = np.frombuffer(data, dtype=dtype, count=count).astype(
            np.float64
        )
    else:
        flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8, count=need), bitorder="little")
        weights = np.left_shift(np.uint64(1), np.arange(bits, dtype=np.uint64))
        raw = (flat[: count * bits].reshape(count, bits).astype(np.uint64) @ weights).astype(
            np.float64
        )
    raw /= float((1 << bits) - 1)
    return raw


def _diploid_counts(n_alleles: int, allele: int) -> npt.NDArray[np.float64]:
    """Copies of ``allele`` in each unphased diploid genotype, in BGEN's order (11, 12, 22, 13,
    23, 33, ...: genotype {a <= b} at index b(b+1)/2 + a).

    >>> _diploid_counts(2, 1).tolist(), _diploid_counts(3, 0).tolist()
    ([0.0, 1.0, 2.0], [2.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    """
    counts = [float((a == allele) + (b == allele)) for b in range(n_alleles) for a in range(b + 1)]
    return np.array(counts)


def _values_per_call(ploidy: int, n_alleles: int, phased: bool) -> int:
    """How many probabilities BGEN stores for one call (the last of each set is implied)."""
    if phased:
        return ploidy * (n_alleles - 1)
    return comb(ploidy + n_alleles - 1, n_alleles - 1) - 1


def allele_dosage(block: bytes, n_samples: int, allele: int) -> npt.NDArray[np.float64]:
    """Copies of ``allele`` (0 = the first) per sample from a decompressed layout 2 genotype
    block; NaN for missing calls. A haploid call counts as homozygous (0 or 2 copies), as
    plink2 counts one; calls of other ploidies than 1 and 2 are refused (ValueError)."""
    if len(block) < 10:
        raise ValueError("genotype block too short")
    n, n_alleles, pmin, pmax = struct.unpack("<IHBB", block[:8])
    if n != n_samples:
        raise ValueError(f"the genotype block has {n} samples, not {n_samples}")
    if allele >= n_alleles:
        raise ValueError(f"no allele {allele} (the variant has {n_alleles})")
    flags = np.frombuffer(block, dtype=np.uint8, count=n, offset=8)
    phased, bits = bool(block[8 + n]), block[9 + n]
    if bits < 1 or bits > 32:
        raise ValueError(f"{bits} bits per probability")
    if pmin == pmax == 2 and n_alleles == 2:  # the usual case, diploid biallelic: no gather
        dose = _biallelic_diploid(_unpack_bits(block[10 + n :], 2 * n, bits), phased, allele)
        dose[(flags & 0x80) != 0] = np.nan
        return dose
    ploidy = (flags & 0x3F).astype(np.int64)
    bad = (ploidy < 1) | (ploidy > 2)
    if bad.any():
        raise ValueError(
            f"a call of ploidy {int(ploidy[bad][0])} (sample {int(np.flatnonzero(bad)[0]) + 1}); "
            "only haploid and diploid calls are scored"
        )
    sizes = {z: _values_per_call(z, n_alleles, phased) for z in (1, 2)}
    per_sample = np.where(ploidy == 1, sizes[1], sizes[2])
    offsets = np.concatenate(([0], np.cumsum(per_sample)))
    values = _unpack_bits(block[10 + n :], int(offsets[-1]), bits)
    dose = np.empty(n, dtype=np.float64)
    for z, size in sizes.items():
        who = np.flatnonzero(ploidy == z)
        if who.size == 0:
            continue
        if who.size == n:  # every call of one ploidy (the usual case): no gather
            probs = values.reshape(n, size)
        else:
            probs = values[offsets[who][:, None] + np.arange(size)]
        # the probability of each allele (phased: per haplotype), the last one implied
        if phased:
            haps = probs.reshape(who.size, z, n_alleles - 1)
            full = np.concatenate([haps, 1.0 - haps.sum(axis=2, keepdims=True)], axis=2)
            copies = full[:, :, allele].sum(axis=1)
        else:
            full = np.concatenate([probs, 1.0 - probs.sum(axis=1, keepdims=True)], axis=1)
            copies = full @ (
                _diploid_counts(n_alleles, allele) if z == 2 else _haploid(allele, n_alleles)
            )
        dose[who] = copies * (2 if z == 1 else 1)
    dose[(flags & 0x80) != 0] = np.nan
    return dose


def _biallelic_diploid(
    values: npt.NDArray[np.float64], phased: bool, allele: int
) -> npt.NDArray[np.float64]:
    """Copies of ``allele`` from two stored probabilities per call: phased, P(first allele)
    of each haplotype; unphased, P(11) and P(12)."""
    pairs = values.reshape(-1, 2)
    # copies of the first allele
    first = pairs[:, 0] + pairs[:, 1] if phased else 2.0 * pairs[:, 0] + pairs[:, 1]
    return first if allele == 0 else 2.0 - first


def _haploid(allele: int, n_alleles: int) -> npt.NDArray[np.float64]:
    """Copies of ``allele`` in each haploid genotype (one per allele)."""
    counts: npt.NDArray[np.float64] = np.eye(n_alleles)[allele]
    return counts


class BgenReader(ClosedOnExit):
    """Reader of a BGEN v1.2 file (and its ``.sample``, when the target names one)."""

    def __init__(self, file: GenotypeFile) -> None:
        self.file = file
        self._handle: BinaryIO | None = None
        self._header: BgenHeader | None = None
        self._variants: pl.DataFrame | None = None
        self._starts: npt.NDArray[np.int64] | None = None

    def _open(self) -> tuple[BinaryIO, BgenHeader]:
        if self._handle is None:
            handle = open(self.file.geno, "rb")  # noqa: SIM115 (closed by close())
            try:
                self._header = read_header(handle, self.file.geno)
            except BaseException:
                handle.close()
                raise
            self._handle = handle
        assert self._header is not None
        return self._handle, self._header

    # -- metadata ---------------------------------------------------------------------------
    def read_samples(self) -> pl.DataFrame:
        _, header = self._open()
        if self.file.samples != self.file.geno:
            samples = parse_sample_file(self.file.samples.read_bytes(), self.file.samples)
            if samples.height != header.n_samples:
                raise TargetFormatError(
                    f"{self.file.samples} lists {samples.height} samples but "
                    f"{self.file.geno} holds {header.n_samples}"
                )
            return samples
        if header.sample_ids is None:
            raise TargetFormatError(
                f"{self.file.geno} stores no sample ids: name its .sample file too"
            )
        ids = list(header.sample_ids)
        return sample_frame(ids, ids)

    def read_variants(self) -> pl.DataFrame:
        if self._variants is None:
            handle, header = self._open()
            self._variants, self._starts = scan_variants(handle, header, self.file.geno)
        return self._variants

    # -- genotypes --------------------------------------------------------------------------
    def _decompress(self, data: bytes, size: int, compression: int) -> bytes:
        if compression == 1:
            return zlib.decompress(data, bufsize=size)
        import zstandard

        try:
            return zstandard.ZstdDecompressor().decompress(data, max_output_size=size)
        except zstandard.ZstdError as exc:
            raise ValueError(f"zstd: {exc}") from exc

    def _block(self, k: int) -> bytes:
        """Variant ``k``'s genotype block, decompressed."""
        handle, header = self._open()
        assert self._starts is not None
        handle.seek(int(self._starts[k]))
        (size,) = _unpack("<I", handle.read(4), self.file.geno)
        block = handle.read(size)
        if not header.compression:
            return block
        (full,) = _unpack("<I", block[:4], self.file.geno)
        return self._decompress(block[4:], full, header.compression)

    def _dosage(self, k: int, allele: int, out: npt.NDArray[np.float64]) -> None:
        _, header = self._open()
        try:
            dose = allele_dosage(self._block(k), header.n_samples, allele)
        except (zlib.error, ValueError, IndexError) as exc:
            raise TargetFormatError(f"{self.file.geno}: variant {k}: {exc}") from exc
        np.multiply(np.rint(dose * DOSAGE_RESOLUTION), 1.0 / DOSAGE_RESOLUTION, out=out)
        out[np.isnan(dose)] = _MISSING

    def dosage_blocks(
        self,
        variant_idx: npt.NDArray[np.uint32],
        allele_idx: npt.NDArray[np.uint8],
        block_size: int,
    ) -> Iterator[DosageBlock]:
        self.read_variants()
        _, header = self._open()
        check_requests(variant_idx, allele_idx, header.n_variants)
        for start in range(0, variant_idx.size, block_size):
            v = variant_idx[start : start + block_size]
            a = allele_idx[start : start + block_size]
            out = np.empty((v.size, header.n_samples), dtype=np.float64)
            for row in range(v.size):
                self._dosage(int(v[row]), int(a[row]), out[row])
            yield DosageBlock.from_sentinel(start, out, _MISSING)

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


__all__ = ["BgenHeader", "BgenReader", "parse_sample_file", "read_header", "scan_variants"]
