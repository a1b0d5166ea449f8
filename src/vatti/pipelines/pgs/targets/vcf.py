"""VCF, VCF.gz and BCF targets, read with cyvcf2 (htslib), streaming.

Samples follow the PGS Catalog Calculator, which imports a VCF with ``plink2 --vcf``: the IID is
the whole VCF sample name and the FID is ``0``. Genotypes come from ``GT``; with ``use_dosage``
(the calculator's ``vcf_import_dosage``) from ``DS`` when the record has it, rounded to plink2's
dosage resolution of 1/16384 so that sums agree with plink2's. A record without ``DS``, or a
call whose ``DS`` is missing (``.``), falls back to ``GT``, as plink2 does.

GT rules follow plink2's import: a half-missing call (``./1``) is missing, and a haploid call
(``1``) counts as homozygous.

A text VCF is read once (:mod:`.vcf_scan`): the pass that lists the variants also keeps the GT
calls, packed, in an anonymous temporary file, and the scoring pass of the same file (a later
reader in the same process) reads them from there; without kept calls (never listed, file
changed, too large) it reads the file again (:mod:`.vcf_text`). BCF and ``use_dosage`` go
through htslib.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from vatti.pipelines.pgs.inflate import GZIP_ERRORS
from vatti.pipelines.pgs.targets import vcf_scan, vcf_text
from vatti.pipelines.pgs.targets.base import (
    ClosedOnExit,
    DosageBlock,
    GenotypeFile,
    check_requests,
    normalise_chrom,
    sample_frame,
)
from vatti.pipelines.pgs.targets.errors import TargetFormatError

#: What scanning a damaged text VCF raises.
_SCAN_ERRORS: tuple[type[BaseException], ...] = (ValueError, *GZIP_ERRORS)

#: plink2 stores dosages as multiples of 1/16384.
DOSAGE_RESOLUTION = 16384
_VECTOR_END = -2


def _open_vcf(path: str, **kwargs: Any) -> Any:
    from cyvcf2 import VCF

    try:
        return VCF(path, **kwargs)
    except (OSError, Exception) as exc:
        raise TargetFormatError(f"cannot read {path} as VCF/BCF: {exc}") from exc


def gt_allele_dosage(codes: npt.NDArray[np.int16], allele: int) -> npt.NDArray[np.float64]:
    """Copies of ``allele`` per sample from cyvcf2 ``genotype.array()`` codes (NaN = missing).

    ``codes`` is samples x (ploidy + 1), the last column being the phase flag; ``-1`` is a missing
    allele and ``-2`` the end of a shorter (haploid) call.
    """
    first = codes[:, 0].astype(np.int32)
    second = codes[:, 1].astype(np.int32) if codes.shape[1] > 2 else np.full_like(first, -2)
    second = np.where(second == _VECTOR_END, first, second)
    dosage = (first == allele).astype(np.float64) + (second == allele)
    dosage[(first < 0) | (second < 0)] = np.nan
    result: npt.NDArray[np.float64] = dosage
    return result


def ds_allele_dosage(ds: npt.NDArray[np.float32], allele: int) -> npt.NDArray[np.float64]:
    """Dosage of ``allele`` from a ``DS`` array (samples x ALT count), at plink2's resolution."""
    values = np.asarray(ds, dtype=np.float64)
    values = np.where(values < -1e30, np.nan, values)  # htslib's missing float is tiny
    quantized = np.round(values * DOSAGE_RESOLUTION) / DOSAGE_RESOLUTION
    result: npt.NDArray[np.float64] = (
        2.0 - quantized.sum(axis=1) if allele == 0 else quantized[:, allele - 1].copy()
    )
    return result


class VcfReader(ClosedOnExit):
    """Reader of one VCF/VCF.gz/BCF file."""

    def __init__(self, file: GenotypeFile, *, use_dosage: bool = False) -> None:
        self.file = file
        self.use_dosage = use_dosage
        self._variants: pl.DataFrame | None = None
        self._samples: list[str] | None = None

    def _path(self) -> str:
        return str(self.file.geno)

    def _sample_names(self) -> list[str]:
        if self._samples is None:
            vcf = _open_vcf(self._path(), lazy=True)
            try:
                self._samples = [str(s) for s in vcf.samples]
            finally:
                vcf.close()
        return self._samples

    def read_samples(self) -> pl.DataFrame:
        names = self._sample_names()
        return sample_frame(["0"] * len(names), names)  # a VCF has no pedigree: all founders

    def _is_text(self) -> bool:
        return not self._path().endswith(".bcf")

    def read_variants(self) -> pl.DataFrame:
        if self._variants is None:
            frame = self._text_variants() if self._is_text() else self._htslib_variants()
            self._variants = frame.select(
                pl.int_range(pl.len(), dtype=pl.UInt32).alias("variant_idx"),
                normalise_chrom(pl.col("chrom")).alias("chrom"),
                "pos",
                "id",
                "ref",
                "alt",
            )
        return self._variants

    def _text_variants(self) -> pl.DataFrame:
        """One pass that also keeps the GT calls for :meth:`dosage_blocks` (:mod:`.vcf_scan`)."""
        try:
            scan = vcf_scan.scan(self.file.geno, keep_calls=not self.use_dosage)
        except _SCAN_ERRORS as exc:
            raise TargetFormatError(f"cannot read {self._path()} as VCF: {exc}") from exc
        if scan.calls is not None:
            vcf_scan.keep(self.file.geno, scan.calls)
        return scan.variants

    def _htslib_variants(self) -> pl.DataFrame:
        chrom: list[str] = []
        pos: list[int] = []
        ids: list[str] = []
        ref: list[str] = []
        alt: list[str] = []
        vcf = _open_vcf(self._path(), lazy=True, samples=[])
        try:
            for record in vcf:
                chrom.append(record.CHROM)
                pos.append(record.POS)
                ids.append(record.ID or ".")
                ref.append(record.REF)
                alt.append(",".join(record.ALT) or ".")
        finally:
            vcf.close()
        return pl.DataFrame(
            {"chrom": chrom, "pos": pos, "id": ids, "ref": ref, "alt": alt},
            schema=vcf_scan.FIXED_SCHEMA,
        )

    def _record_dosage(self, record: Any, allele: int) -> npt.NDArray[np.float64]:
        if self.use_dosage:
            ds = record.format("DS")
            if ds is not None:
                dosage = ds_allele_dosage(ds, allele)
                gap = np.isnan(dosage)
                if gap.any():  # as plink2 dosage=DS: a call without DS counts its GT
                    dosage[gap] = self._gt_dosage(record, allele)[gap]
                return dosage
        return self._gt_dosage(record, allele)

    def _gt_dosage(self, record: Any, allele: int) -> npt.NDArray[np.float64]:
        try:
            genotype = record.genotype  # (record.FORMAT crashes on lazily read records)
        except Exception:  # cyvcf2's error for a record without GT
            # no call for anyone, as plink2 imports such a record
            return np.full(len(self._sample_names()), np.nan)
        return gt_allele_dosage(genotype.array(), allele)

    def dosage_blocks(
        self,
        variant_idx: npt.NDArray[np.uint32],
        allele_idx: npt.NDArray[np.uint8],
        block_size: int,
    ) -> Iterator[DosageBlock]:
        n_variants = self._variants.height if self._variants is not None else 2**32
        check_requests(variant_idx, allele_idx, n_variants)
        n = len(self._sample_names())
        total = int(variant_idx.size)
        if total == 0:
            return
        if not self.use_dosage and self._is_text():
            calls = vcf_scan.take(self.file.geno)
            if calls is None:
                yield from self._text_blocks(variant_idx, allele_idx, block_size, n)
            else:
                yield from self._kept_blocks(calls, variant_idx, allele_idx, block_size)
            return
        vcf = _open_vcf(self._path(), lazy=True)
        try:
            block = np.empty((min(block_size, total), n), dtype=np.float64)
            start = 0  # first request of the current block
            r = 0  # next request
            for i, record in enumerate(vcf):
                if i < variant_idx[r]:
                    continue
                while r < total and variant_idx[r] == i:
                    block[r - start] = self._record_dosage(record, int(allele_idx[r]))
                    r += 1
                    if r - start == block.shape[0]:
                        yield DosageBlock.from_sentinel(start, block, np.nan)
                        block = np.empty((min(block_size, total - r), n), dtype=np.float64)
                        start = r
                if r == total:
                    break
            if r < total:
                raise TargetFormatError(
                    f"{self._path()} has fewer variants than requested "
                    f"(variant_idx {int(variant_idx[r])})"
                )
            if r > start:
                yield DosageBlock.from_sentinel(start, block[: r - start].copy(), np.nan)
        finally:
            vcf.close()

    def _kept_blocks(
        self,
        calls: vcf_scan.GtCalls,
        variant_idx: npt.NDArray[np.uint32],
        allele_idx: npt.NDArray[np.uint8],
        block_size: int,
    ) -> Iterator[DosageBlock]:
        """Blocks from the calls kept when the variants were listed (the file is not read)."""
        try:
            if variant_idx.size and int(variant_idx.max()) >= len(calls.slots):
                raise TargetFormatError(
                    f"{self._path()} has fewer variants than requested "
                    f"(variant_idx {int(variant_idx.max())})"
                )
            alleles = allele_idx.astype(np.int16)
            for lo in range(0, int(variant_idx.size), block_size):
                hi = min(lo + block_size, int(variant_idx.size))
                try:
                    values, missing = calls.dosages(variant_idx[lo:hi], alleles[lo:hi])
                except ValueError as exc:
                    raise TargetFormatError(f"{self._path()}: {exc}") from exc
                yield DosageBlock(lo, values, missing)
        finally:
            calls.close()

    def _text_blocks(
        self,
        variant_idx: npt.NDArray[np.uint32],
        allele_idx: npt.NDArray[np.uint8],
        block_size: int,
        n: int,
    ) -> Iterator[DosageBlock]:
        """GT-only scoring of a text VCF through :mod:`.vcf_text` (each record read once)."""
        unique, first = np.unique(variant_idx, return_index=True)
        ends = np.append(first[1:], variant_idx.size).tolist()
        alleles = allele_idx.astype(np.int16)
        lines: list[bytes] = []
        start = r = found = 0
        try:
            for (_, line), lo, hi in zip(
                vcf_text.select_lines(self.file.geno, unique), first.tolist(), ends, strict=False
            ):
                found += 1
                lines.extend([line] * (hi - lo))
                r = hi
                if r - start >= block_size:
                    yield from self._decoded(lines, alleles, start, block_size, n)
                    start += len(lines) - len(lines) % block_size
                    lines = lines[len(lines) - len(lines) % block_size :]
            if found < unique.size:
                raise TargetFormatError(
                    f"{self._path()} has fewer variants than requested "
                    f"(variant_idx {int(unique[found])})"
                )
            if lines:
                yield from self._decoded(lines, alleles, start, block_size, n)
        except ValueError as exc:
            raise TargetFormatError(f"{self._path()}: {exc}") from exc

    @staticmethod
    def _decoded(
        lines: list[bytes], alleles: npt.NDArray[np.int16], start: int, block_size: int, n: int
    ) -> Iterator[DosageBlock]:
        """Blocks of ``block_size`` rows from ``lines`` (all of them when fewer remain)."""
        full = len(lines) - len(lines) % block_size if len(lines) >= block_size else len(lines)
        for lo in range(0, full, block_size):
            chunk = lines[lo : lo + block_size]
            at = start + lo
            values = vcf_text.decode_lines(chunk, alleles[at : at + len(chunk)], n)
            yield DosageBlock.from_sentinel(at, values, np.nan)

    def close(self) -> None:
        """Nothing stays open between calls."""
