"""What every target genotype reader shares: file sets, samplesets, the reader protocol.

A reader is opened on one :class:`GenotypeFile` and answers three questions: which samples
(``FID``, ``IID``), which variants (in file order), and — streaming, one bounded block at a time —
how many copies of a requested allele each sample carries at the requested variants.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt
import polars as pl

from vatti.pipelines.pgs.targets.errors import (
    SamplesMismatch,
    ScoringInputError,
    TargetFileMissing,
    TargetFormatError,
)
from vatti.pipelines.pgs.vocabulary import (
    CHR_PREFIX,
    PLINK_CHROMOSOME_CODES,
    TargetFormat,
    normalise_chrom_name,
)

#: Columns of :func:`read_variants`, in order.
VARIANT_SCHEMA: dict[str, type[pl.DataType]] = {
    "file_idx": pl.UInt32,
    "variant_idx": pl.UInt32,
    "chrom": pl.Utf8,
    "pos": pl.Int64,
    "id": pl.Utf8,
    "ref": pl.Utf8,
    "alt": pl.Utf8,
}

#: Columns of a reader's samples, in order. ``founder``: the sample has no parent in the
#: file's pedigree columns (.fam/.psam PAT and MAT both ``0``; every VCF sample). As in plink2,
#: only founders count towards the allele frequencies of mean imputation.
SAMPLE_SCHEMA: dict[str, type[pl.DataType]] = {
    "FID": pl.Utf8,
    "IID": pl.Utf8,
    "founder": pl.Boolean,
}
#: What a .fam or .psam PAT/MAT column holds for an unknown parent.
NO_PARENT = "0"


def sample_frame(
    fids: list[str], iids: list[str], founders: list[bool] | None = None
) -> pl.DataFrame:
    """A samples table (:data:`SAMPLE_SCHEMA`); without ``founders``, every sample is one."""
    founder = founders if founders is not None else [True] * len(iids)
    return pl.DataFrame({"FID": fids, "IID": iids, "founder": founder}, schema=SAMPLE_SCHEMA)


@dataclass(frozen=True)
class GenotypeFile:
    """One genotype file set; for a VCF/BCF the three paths are the same file."""

    format: TargetFormat
    geno: Path
    variants: Path
    samples: Path
    #: The chromosome the file holds (the calculator's samplesheet ``chrom``): only its variants
    #: are read; ``None``: every chromosome.
    chrom: str | None = None
    #: Read a VCF's ``DS`` dosages rather than its ``GT`` calls (the calculator's per-row
    #: ``vcf_import_dosage``); meaningless for PLINK files, which store what they store.
    use_dosage: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", TargetFormat.parse(self.format))

    @classmethod
    def from_prefix(
        cls,
        format: TargetFormat | str,
        prefix: str | Path,
        chrom: str | None = None,
        *,
        use_dosage: bool = False,
    ) -> Self:
        """Resolve a PGS Catalog Calculator ``path_prefix``: each file is the first of its
        format's endings that exists (compressed variants first, as pgsc_calc prefers them); a
        VCF may also be given as its own path."""
        fmt = TargetFormat.parse(format)
        suffixes = fmt.suffixes
        if fmt.one_file and Path(prefix).exists():
            path = Path(prefix)
            return cls(fmt, path, path, path, chrom, use_dosage)
        found: list[Path] = []
        for ends in (suffixes.geno, suffixes.variants, suffixes.samples):
            candidates = [Path(f"{prefix}{end}") for end in ends]
            found.append(next((c for c in candidates if c.exists()), candidates[0]))
        if fmt.one_file:
            found = [found[0]] * 3
        return cls(fmt, found[0], found[1], found[2], chrom, use_dosage)

    def check_exists(self) -> None:
        for path in {self.geno, self.variants, self.samples}:
            if not path.is_file():
                raise TargetFileMissing(f"target file {path} does not exist")


@dataclass(frozen=True)
class Sampleset:
    """The genotype files of one cohort (often one file per chromosome), same samples in each."""

    name: str
    files: Sequence[GenotypeFile]


@dataclass(frozen=True)
class DosageBlock:
    """Allele dosages for requests ``start`` to ``start + len(values)`` (rows) x samples.

    A dosage is the number of copies (0 to 2, fractional with DS) of the requested allele.
    Missing calls hold 0 in ``values`` and are listed in ``missing``, their sorted flat indices
    into ``values`` (missing calls are rare, so this is much cheaper than NaN or a mask).
    """

    start: int
    values: npt.NDArray[np.float64]
    missing: npt.NDArray[np.int64]

    @classmethod
    def from_sentinel(
        cls, start: int, values: npt.NDArray[np.float64], sentinel: float = -9.0
    ) -> DosageBlock:
        """Take ownership of ``values`` where ``sentinel`` (or NaN) marks missing calls."""
        flat = values.reshape(-1)
        if np.isnan(sentinel):
            missing = np.flatnonzero(np.isnan(flat))
        else:
            missing = np.flatnonzero(flat == sentinel)
        flat[missing] = 0.0
        return cls(start, values, missing.astype(np.int64))


class GenotypeReader(Protocol):
    """A reader opened on one :class:`GenotypeFile`."""

    def read_samples(self) -> pl.DataFrame:
        """``FID``, ``IID``, ``founder`` (:data:`SAMPLE_SCHEMA`), in file order."""
        ...

    def read_variants(self) -> pl.DataFrame:
        """``variant_idx``, ``chrom``, ``pos``, ``id``, ``ref``, ``alt`` in file order."""
        ...

    def dosage_blocks(
        self,
        variant_idx: npt.NDArray[np.uint32],
        allele_idx: npt.NDArray[np.uint8],
        block_size: int,
    ) -> Iterator[DosageBlock]:
        """Stream the dosage of allele ``allele_idx[i]`` at ``variant_idx[i]`` for every request.

        Requests are sorted by variant (:func:`check_requests`); blocks come in order and hold at
        most ``block_size`` rows. A block is only valid until the next one is asked for (readers
        may reuse its memory).
        """
        ...

    def fork(self) -> GenotypeReader | None:
        """Another reader of the same file, for another thread (sharing the metadata read so
        far), or ``None`` when the file can only be read in order (a VCF, a BGEN)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ClosedOnExit:
    """A reader that ``with`` closes (the lifetime :class:`GenotypeReader` asks for)."""

    def fork(self) -> GenotypeReader | None:
        """No twin by default: the file is read in order, by one thread."""
        return None

    def close(self) -> None:
        """Release what the reader holds open."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_requests(
    variant_idx: npt.NDArray[np.uint32], allele_idx: npt.NDArray[np.uint8], n_variants: int
) -> None:
    """Refuse requests that are unsorted, out of range or of mismatched length."""
    if variant_idx.shape != allele_idx.shape or variant_idx.ndim != 1:
        raise ScoringInputError("variant_idx and allele_idx must be 1-d arrays of the same length")
    if variant_idx.size == 0:
        return
    if np.any(np.diff(variant_idx.astype(np.int64)) < 0):
        raise ScoringInputError("requested variants must be sorted by variant_idx")
    if int(variant_idx[-1]) >= n_variants:
        raise ScoringInputError(
            f"variant_idx {int(variant_idx[-1])} is out of range (the file has {n_variants})"
        )


def normalise_chrom(chrom: pl.Expr) -> pl.Expr:
    """Chromosome names as the matcher expects (:func:`normalise_chrom_name` on a column).

    >>> names = pl.Series(["chr1", "CHRX", "23", "24", "25", "26", "chr23", "2"])
    >>> pl.select(normalise_chrom(pl.lit(names))).to_series().to_list()
    ['1', 'X', 'X', 'Y', 'XY', 'MT', 'X', '2']
    """
    return chrom.str.replace(CHR_PREFIX, "").replace(PLINK_CHROMOSOME_CODES)


def open_reader(file: GenotypeFile, *, use_dosage: bool = False) -> GenotypeReader:
    """Open the reader for ``file``'s format; a VCF's ``DS`` is read instead of its ``GT`` when
    ``use_dosage`` (the whole job's setting) or the file's own ``use_dosage`` is set."""
    file.check_exists()
    if file.format is TargetFormat.PFILE:
        from vatti.pipelines.pgs.targets.plink2 import PgenReader

        return PgenReader(file)
    if file.format is TargetFormat.BFILE:
        from vatti.pipelines.pgs.targets.plink1 import BedReader

        return BedReader(file)
    if file.format is TargetFormat.BGEN:
        from vatti.pipelines.pgs.targets.bgen import BgenReader

        return BgenReader(file)
    from vatti.pipelines.pgs.targets.vcf import VcfReader

    return VcfReader(file, use_dosage=use_dosage or file.use_dosage)


def read_samples(sampleset: Sampleset) -> pl.DataFrame:
    """:data:`SAMPLE_SCHEMA` of the sampleset; every file must hold the same samples, same order."""
    if not sampleset.files:
        raise SamplesMismatch(f"sampleset {sampleset.name!r} has no genotype files")
    first: pl.DataFrame | None = None
    for file in sampleset.files:
        with open_reader(file) as reader:
            samples = reader.read_samples()
        if first is None:
            first = samples
        elif not samples.equals(first):
            raise SamplesMismatch(
                f"sampleset {sampleset.name!r}: the samples of {file.samples} differ from those "
                f"of {sampleset.files[0].samples} (same samples in the same order are required)"
            )
    assert first is not None
    if first.height == 0:
        raise TargetFormatError(
            f"sampleset {sampleset.name!r}: {sampleset.files[0].samples} has no samples to score "
            "(a sites-only VCF, or an empty .psam/.fam?)"
        )
    return first


def read_variants(sampleset: Sampleset) -> pl.DataFrame:
    """The variants of every file of the sampleset, with :data:`VARIANT_SCHEMA` columns; of a
    file with a ``chrom``, only those on that chromosome (pgsc_calc's samplesheet ``chrom``:
    plink2 ``--chr`` on a VCF, ``pgscatalog-match --chrom``)."""
    frames = []
    for file_idx, file in enumerate(sampleset.files):
        with open_reader(file) as reader:
            variants = reader.read_variants()
        if file.chrom is not None:
            variants = variants.filter(pl.col("chrom") == normalise_chrom_name(file.chrom))
        frames.append(variants.with_columns(file_idx=pl.lit(file_idx, dtype=pl.UInt32)))
    if not frames:
        return pl.DataFrame(schema=VARIANT_SCHEMA)
    return pl.concat(frames).select(
        pl.col(name).cast(dtype) for name, dtype in VARIANT_SCHEMA.items()
    )
