"""Deterministic synthetic cohorts and scoring files (for the demo, tests and benchmarks).

Everything is drawn from seeded ``numpy.random.Generator`` streams, so the same arguments always
give byte-identical files. Genotypes are made block by block (about :data:`BLOCK_CELLS` calls at
a time), so a cohort far larger than memory can be written. Scoring files are PGS Catalog v2.0
files with a full ``#`` header that mix the cases a calculator must handle: variants whose effect
allele is the target's REF (allele swap), on the other strand (strand flip), ambiguous A/T and C/G
SNPs, and variants absent from the target. :class:`ScoreRows` carries, per row, the truth a
matcher should find, so benchmarks and tests can build the matched set without a matcher.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from vatti.pipelines.pgs.vocabulary import EffectType, GenomeBuild

_BASES = np.array(list("ACGT"))
#: For each base index (A, C, G, T), the two bases that are neither it nor its complement.
_NOT_COMPLEMENT = np.array([[1, 2], [0, 3], [0, 3], [1, 2]])
MISSING = -9
#: Genotype calls generated per block when ``CohortSpec.block`` is ``None``.
BLOCK_CELLS = 1 << 23


@dataclass(frozen=True)
class CohortSpec:
    """A synthetic cohort: one chromosome, biallelic SNPs, ``missing_rate`` of calls missing.

    ``ambiguous`` is the share of A/T and C/G SNPs. ``block``: variants generated at a time
    (``None``: about :data:`BLOCK_CELLS` calls); it is part of the seeded stream, so changing it
    changes the genotypes.
    """

    n_samples: int
    n_variants: int
    seed: int = 42
    missing_rate: float = 0.01
    ambiguous: float = 0.15
    chrom: str = "22"
    first_pos: int = 16_050_000
    block: int | None = None

    def block_rows(self) -> int:
        """Variants per generated block.

        >>> CohortSpec(2000, 10).block_rows(), CohortSpec(2000, 10, block=7).block_rows()
        (4194, 7)
        """
        if self.block is not None:
            return self.block
        return max(1, BLOCK_CELLS // max(self.n_samples, 1))


@dataclass(frozen=True)
class Variants:
    chrom: str
    pos: npt.NDArray[np.int64]
    ref: npt.NDArray[np.str_]
    alt: npt.NDArray[np.str_]
    freq: npt.NDArray[np.float64]

    def ids(self) -> list[str]:
        """``chrom:pos:ref:alt`` per variant."""
        return self.id_series().to_list()

    def id_series(self) -> pl.Series:
        return pl.DataFrame({"p": self.pos, "r": self.ref, "a": self.alt}).select(
            pl.concat_str(pl.lit(self.chrom), "p", "r", "a", separator=":")
        )["literal"]


def complement(alleles: npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    """Complement single-base alleles.

    >>> complement(np.array(["A", "C", "G", "T"])).tolist()
    ['T', 'G', 'C', 'A']
    """
    index = np.searchsorted(_BASES, alleles)
    return _BASES[3 - index]


def make_variants(spec: CohortSpec) -> Variants:
    """Positions at least 2 bp apart (so ``pos + 1`` is never a variant), alleles, frequencies."""
    rng = np.random.default_rng(spec.seed)
    n = spec.n_variants
    gaps = rng.integers(2, 400, size=n, dtype=np.int64)
    pos = spec.first_pos + np.cumsum(gaps)
    ref_i = rng.integers(0, 4, size=n)
    other_i = _NOT_COMPLEMENT[ref_i, rng.integers(0, 2, size=n)]
    alt_i = np.where(rng.random(n) < spec.ambiguous, 3 - ref_i, other_i)
    freq = np.clip(rng.beta(0.6, 1.2, size=n), 0.01, 0.99)
    return Variants(spec.chrom, pos, _BASES[ref_i], _BASES[alt_i], freq)


def sample_ids(spec: CohortSpec) -> list[str]:
    return [f"S{i:06d}" for i in range(1, spec.n_samples + 1)]


def genotype_blocks(spec: CohortSpec, variants: Variants) -> Iterator[npt.NDArray[np.int8]]:
    """ALT allele counts (0/1/2, ``MISSING`` = -9): ``block_rows()`` variants x samples a block."""
    rng = np.random.default_rng(spec.seed + 1)
    rows = spec.block_rows()
    for start in range(0, spec.n_variants, rows):
        freq = variants.freq[start : start + rows].astype(np.float32)
        shape = (freq.size, spec.n_samples)
        geno = (rng.random(shape, dtype=np.float32) < freq[:, None]).view(np.int8)
        geno += rng.random(shape, dtype=np.float32) < freq[:, None]
        if spec.missing_rate > 0:
            geno[rng.random(shape, dtype=np.float32) < spec.missing_rate] = MISSING
        yield geno


def write_pfile(prefix: Path, spec: CohortSpec) -> Variants:
    """Write ``prefix.pgen/.pvar/.psam`` and return the variants."""
    import pgenlib

    variants = make_variants(spec)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"#FID": sample_ids(spec)}).with_columns(
        pl.col("#FID").alias("IID"), pl.lit("NA").alias("SEX")
    ).write_csv(f"{prefix}.psam", separator="\t")
    pl.DataFrame(
        {
            "#CHROM": [spec.chrom] * spec.n_variants,
            "POS": variants.pos,
            "ID": variants.id_series(),
            "REF": variants.ref,
            "ALT": variants.alt,
        }
    ).write_csv(f"{prefix}.pvar", separator="\t")
    writer = pgenlib.PgenWriter(
        filename=f"{prefix}.pgen".encode(),
        sample_ct=spec.n_samples,
        variant_ct=spec.n_variants,
        nonref_flags=False,
    )
    try:
        for block in genotype_blocks(spec, variants):
            writer.append_biallelic_batch(block)
    finally:
        writer.close()
    return variants


#: One VCF cell per genotype code (missing, 0/0, 0/1, 1/1), each followed by a tab.
_VCF_CELLS = np.frombuffer(b"./.\t0/0\t0/1\t1/1\t", dtype=np.uint8).reshape(4, 4)


def vcf_rows(block: npt.NDArray[np.int8]) -> npt.NDArray[np.uint8]:
    """The GT columns of a block as bytes: one row per variant, ending in a newline.

    >>> bytes(vcf_rows(np.array([[0, 2], [MISSING, 1]], dtype=np.int8)).ravel())
    b'0/0\\t1/1\\n./.\\t0/1\\n'
    """
    codes = np.where(block == MISSING, 0, block + 1)
    cells = _VCF_CELLS[codes]
    cells[:, -1, 3] = ord("\n")
    return cells.reshape(block.shape[0], -1)


def write_vcf_gz(path: Path, spec: CohortSpec, *, compresslevel: int = 1) -> Variants:
    """Write a gzip-compressed VCF 4.2 with GT only (the same cohort as :func:`write_pfile`)."""
    variants = make_variants(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    fixed = (
        pl.DataFrame(
            {"id": variants.id_series(), "p": variants.pos, "r": variants.ref, "a": variants.alt}
        )
        .select(
            pl.concat_str(
                pl.lit(spec.chrom), "p", "id", "r", "a", pl.lit(".\t.\t.\tGT\t"), separator="\t"
            )
        )["literal"]
        .to_list()
    )
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
    with (
        open(path, "wb") as raw,
        gzip.GzipFile("", "wb", compresslevel, raw, mtime=0) as out,  # no name, no time
    ):
        out.write(b"##fileformat=VCFv4.2\n##source=vatti-synthetic\n")
        out.write(f"##contig=<ID={spec.chrom}>\n".encode())
        out.write(b'##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        out.write(("\t".join([*columns, *sample_ids(spec)]) + "\n").encode())
        start = 0
        for block in genotype_blocks(spec, variants):
            rows = vcf_rows(block)
            parts: list[bytes | memoryview] = []
            for j in range(rows.shape[0]):
                parts.append(fixed[start + j].encode())
                parts.append(memoryview(rows[j]))
            out.write(b"".join(parts))
            start += rows.shape[0]
    return variants


@dataclass(frozen=True)
class ScoreSpec:
    """One synthetic score over ``n_variants`` random variants of a cohort.

    The case of each variant (swapped, strand-flipped, absent, or plain with the ALT as effect
    allele) is drawn per cohort variant from ``case_seed``, so every score made with the same
    ``case_seed`` gives a variant the same effect allele; the pick and weights use ``seed``.
    """

    n_variants: int
    pgs_id: str = "PGS999901"
    seed: int = 7
    swapped: float = 0.3
    strand_flipped: float = 0.05
    absent: float = 0.03
    genome_build: str = GenomeBuild.GRCh37.value
    case_seed: int = 11


@dataclass(frozen=True)
class ScoreRows:
    """A scoring file's rows as written, and per row the truth a matcher should find.

    ``target_idx`` is the index of the cohort variant (-1 when absent from the target);
    ``effect_is_ref`` whether the effect allele is that variant's REF (after any strand flip).
    """

    pgs_id: str
    genome_build: str
    chrom: str
    pos: npt.NDArray[np.int64]
    effect: npt.NDArray[np.str_]
    other: npt.NDArray[np.str_]
    weight: npt.NDArray[np.float64]
    target_idx: npt.NDArray[np.int64]
    effect_is_ref: npt.NDArray[np.bool_]
    flipped: npt.NDArray[np.bool_]
    ambiguous: npt.NDArray[np.bool_] = field(repr=False)

    def matchable(self) -> npt.NDArray[np.bool_]:
        """Rows the PGS Catalog Calculator's default rules keep: present and not ambiguous."""
        return (self.target_idx >= 0) & ~self.ambiguous


def make_score(variants: Variants, spec: ScoreSpec) -> ScoreRows:
    """The rows of one score (pure: no I/O)."""
    n_cohort = variants.pos.size
    case = np.random.default_rng(spec.case_seed).random(n_cohort)
    rng = np.random.default_rng(spec.seed)
    n = min(spec.n_variants, n_cohort)
    pick = np.sort(rng.choice(n_cohort, size=n, replace=False))
    weights = np.round(rng.normal(0.0, 0.05, size=n), 6)
    kind = case[pick]
    ref, alt = variants.ref[pick], variants.alt[pick]
    swapped = kind < spec.swapped
    flipped = (kind >= spec.swapped) & (kind < spec.swapped + spec.strand_flipped)
    absent = kind >= 1.0 - spec.absent
    effect = np.where(swapped, ref, alt)
    other = np.where(swapped, alt, ref)
    effect = np.where(flipped, complement(effect), effect)
    other = np.where(flipped, complement(other), other)
    return ScoreRows(
        pgs_id=spec.pgs_id,
        genome_build=spec.genome_build,
        chrom=variants.chrom,
        pos=variants.pos[pick] + absent,
        effect=effect,
        other=other,
        weight=weights,
        target_idx=np.where(absent, -1, pick.astype(np.int64)),
        effect_is_ref=swapped,
        flipped=flipped,
        ambiguous=complement(ref) == alt,
    )


def scorefile_text(rows: ScoreRows) -> str:
    """The whole PGS Catalog v2.0 scoring file of ``rows``."""
    header = (
        "###PGS CATALOG SCORING FILE - synthetic, generated by vatti\n"
        "#format_version=2.0\n##POLYGENIC SCORE (PGS) INFORMATION\n"
        f"#pgs_id={rows.pgs_id}\n#pgs_name=synthetic_{rows.pgs_id}\n"
        "#trait_reported=Synthetic trait\n#trait_mapped=synthetic\n#trait_efo=EFO_0000000\n"
        f"#weight_type=beta\n#genome_build={rows.genome_build}\n"
        f"#variants_number={rows.pos.size}\n"
    )
    body = pl.DataFrame(
        {
            "chr_name": [rows.chrom] * rows.pos.size,
            "chr_position": rows.pos,
            "effect_allele": rows.effect,
            "other_allele": rows.other,
            "effect_weight": rows.weight,
        }
    ).write_csv(separator="\t")
    return header + body


def write_score(path: Path, rows: ScoreRows) -> None:
    """Write ``rows`` as a scoring file (gzip-compressed when ``path`` ends in ``.gz``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = scorefile_text(rows).encode()
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.write_bytes(data)


def write_scorefile(path: Path, variants: Variants, spec: ScoreSpec) -> ScoreRows:
    """Write a PGS Catalog v2.0 scoring file over a random subset of ``variants``."""
    rows = make_score(variants, spec)
    write_score(path, rows)
    return rows


def score_set_specs(
    n_scores: int, n_variants: int, *, first_id: int = 999911, seed: int = 1000, **kw: object
) -> list[ScoreSpec]:
    """``n_scores`` score specs with consecutive ids and seeds (other fields from ``kw``).

    >>> [s.pgs_id for s in score_set_specs(2, 10)]
    ['PGS999911', 'PGS999912']
    """
    return [
        ScoreSpec(n_variants, pgs_id=f"PGS{first_id + k:06d}", seed=seed + k, **kw)  # type: ignore[arg-type]
        for k in range(n_scores)
    ]


def write_score_set(
    directory: Path, variants: Variants, specs: Sequence[ScoreSpec]
) -> list[tuple[Path, ScoreRows]]:
    """Write one ``<pgs_id>.txt.gz`` per spec into ``directory``."""
    written = []
    for spec in specs:
        path = directory / f"{spec.pgs_id}.txt.gz"
        written.append((path, write_scorefile(path, variants, spec)))
    return written


def matched_frame(scores: Sequence[ScoreRows]) -> pl.DataFrame:
    """The matched rows the scorer takes (one target file), from the truth of ``scores``."""
    frames = []
    for rows in scores:
        keep = rows.matchable()
        frames.append(
            pl.DataFrame(
                {
                    "accession": [rows.pgs_id] * int(keep.sum()),
                    "file_idx": np.zeros(int(keep.sum()), dtype=np.uint32),
                    "variant_idx": rows.target_idx[keep].astype(np.uint32),
                    "allele_idx": np.where(rows.effect_is_ref[keep], 0, 1).astype(np.uint8),
                    "effect_weight": rows.weight[keep],
                    "effect_type": [EffectType.ADDITIVE.value] * int(keep.sum()),
                }
            )
        )
    return pl.concat(frames)
