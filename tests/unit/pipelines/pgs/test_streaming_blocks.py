"""Streaming, asserted structurally: readers yield blocks of at most ``block_size`` requests and
the scoring pass asks for blocks of the configured size, so memory is one block of dosages plus
the totals whatever the cohort size (a 2,000 x 200,000 run is a benchmark, not a unit test).

The blocks are also checked, cell by cell, against the generated genotypes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from vatti.pipelines.pgs import streaming
from vatti.pipelines.pgs import synthetic as syn
from vatti.pipelines.pgs.streaming import ScoringOptions, block_rows, score_samplesets
from vatti.pipelines.pgs.targets import DosageBlock, GenotypeFile, Sampleset, open_reader

pytestmark = pytest.mark.unit

SPEC = syn.CohortSpec(n_samples=37, n_variants=90, seed=3, missing_rate=0.05)
#: ALT copies -> PLINK 1 .bed code, with the ALT as A1 (bim column 5): 00 hom A1, 10 het,
#: 11 hom A2, 01 missing.
_BED_CODE = {2: 0b00, 1: 0b10, 0: 0b11, syn.MISSING: 0b01}


def write_bfile(prefix: Path, spec: syn.CohortSpec) -> None:
    """A SNP-major PLINK 1 fileset of the synthetic cohort, written byte by byte."""
    variants = syn.make_variants(spec)
    geno = np.concatenate(list(syn.genotype_blocks(spec, variants)))
    codes = np.vectorize(_BED_CODE.__getitem__)(geno).astype(np.uint8)
    width = -(-spec.n_samples // 4)
    padded = np.zeros((geno.shape[0], width * 4), dtype=np.uint8)
    padded[:, : spec.n_samples] = codes
    quads = padded.reshape(geno.shape[0], width, 4)
    packed = quads[..., 0] | quads[..., 1] << 2 | quads[..., 2] << 4 | quads[..., 3] << 6
    Path(f"{prefix}.bed").write_bytes(bytes([0x6C, 0x1B, 0x01]) + packed.tobytes())
    ids = variants.ids()
    Path(f"{prefix}.bim").write_text(
        "".join(
            f"{spec.chrom}\t{ids[v]}\t0\t{variants.pos[v]}\t{variants.alt[v]}\t{variants.ref[v]}\n"
            for v in range(spec.n_variants)
        )
    )
    Path(f"{prefix}.fam").write_text(
        "".join(f"{s}\t{s}\t0\t0\t0\t-9\n" for s in syn.sample_ids(spec))
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GenotypeFile]:
    base = tmp_path_factory.mktemp("streaming")
    syn.write_pfile(base / "cohort", SPEC)
    write_bfile(base / "cohort", SPEC)
    syn.write_vcf_gz(base / "cohort.vcf.gz", SPEC)
    return {
        "pfile": GenotypeFile.from_prefix("pfile", base / "cohort"),
        "bfile": GenotypeFile.from_prefix("bfile", base / "cohort"),
        "vcf": GenotypeFile.from_prefix("vcf", base / "cohort.vcf.gz"),
    }


def requests() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint8]]:
    """Every other variant, some twice (both alleles), sorted by variant."""
    picked = np.arange(0, SPEC.n_variants, 2, dtype=np.uint32)
    twice = picked[::5]
    variant = np.sort(np.concatenate([picked, twice])).astype(np.uint32)
    allele = np.ones(variant.size, dtype=np.uint8)
    allele[1:][variant[1:] == variant[:-1]] = 0  # the repeated request asks for REF
    return variant, allele


def expected_dosages() -> npt.NDArray[np.float64]:
    variant, allele = requests()
    geno = np.concatenate(list(syn.genotype_blocks(SPEC, syn.make_variants(SPEC))))
    alt = geno[variant].astype(float)
    dosage = np.where(allele[:, None] == 1, alt, 2.0 - alt)
    dosage[geno[variant] == syn.MISSING] = np.nan
    return dosage


@pytest.mark.parametrize("fmt", ["pfile", "bfile", "vcf"])
@pytest.mark.parametrize("block_size", [1, 7, 64, 1000])
def test_blocks_are_bounded_and_exact(
    files: dict[str, GenotypeFile], fmt: str, block_size: int
) -> None:
    variant, allele = requests()
    rows: list[npt.NDArray[np.float64]] = []
    with open_reader(files[fmt]) as reader:
        assert reader.read_samples()["IID"].to_list() == syn.sample_ids(SPEC)
        reader.read_variants()
        for block in reader.dosage_blocks(variant, allele, block_size):
            k = block.values.shape[0]
            assert 1 <= k <= block_size
            assert block.start == sum(r.shape[0] for r in rows)
            assert block.values.shape == (k, SPEC.n_samples)
            dosage = block.values.copy()
            dosage.reshape(-1)[block.missing] = np.nan
            rows.append(dosage)  # a copy: the reader may reuse its block
    got = np.concatenate(rows)
    np.testing.assert_array_equal(got, expected_dosages())


class Recorder:
    """Wraps ``open_reader`` to record the block sizes the scoring pass asks for and gets."""

    def __init__(self) -> None:
        self.asked: list[int] = []
        self.rows: list[int] = []

    def open_reader(self, file: GenotypeFile, **kw: Any) -> Any:
        reader = open_reader(file, **kw)
        original = reader.dosage_blocks
        recorder = self

        def dosage_blocks(
            variant: npt.NDArray[np.uint32], allele: npt.NDArray[np.uint8], size: int
        ) -> Iterator[DosageBlock]:
            recorder.asked.append(size)
            for block in original(variant, allele, size):
                recorder.rows.append(block.values.shape[0])
                yield block

        setattr(reader, "dosage_blocks", dosage_blocks)  # noqa: B010
        return reader


def matched() -> pl.DataFrame:
    variant, allele = requests()
    return pl.DataFrame(
        {
            "accession": ["A", "B"] * (variant.size // 2) + ["A"] * (variant.size % 2),
            "file_idx": np.zeros(variant.size, dtype=np.uint32),
            "variant_idx": variant,
            "allele_idx": allele,
            "effect_weight": np.linspace(-1, 1, variant.size),
            "effect_type": ["additive"] * variant.size,
        }
    )


@pytest.mark.parametrize("fmt", ["pfile", "vcf"])
def test_scoring_pass_streams_in_blocks_of_the_option(
    files: dict[str, GenotypeFile], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampleset = Sampleset("s", [files[fmt]])
    whole = score_samplesets([sampleset], matched(), ScoringOptions())
    recorder = Recorder()
    monkeypatch.setattr(streaming, "open_reader", recorder.open_reader)
    one_thread = ScoringOptions(block_size=5, threads=1)  # one reader, asked once
    streamed = score_samplesets([sampleset], matched(), one_thread)
    n_requests = requests()[0].size
    assert recorder.asked == [5]
    assert max(recorder.rows) <= 5
    assert sum(recorder.rows) == n_requests
    assert len(recorder.rows) == -(-n_requests // 5)
    # block boundaries change nothing
    np.testing.assert_allclose(streamed["SUM"], whole["SUM"], rtol=1e-12, atol=1e-12)
    assert streamed["DENOM"].to_list() == whole["DENOM"].to_list()


@pytest.mark.parametrize("fmt", ["pfile", "bfile", "vcf"])
def test_threads_change_no_bit_of_the_sums(files: dict[str, GenotypeFile], fmt: str) -> None:
    """Blocks scored side by side (own readers for PLINK files, one reader for a VCF) are added
    up in file order: the result is the one thread's, exactly."""
    sampleset = Sampleset("s", [files[fmt]])
    one = score_samplesets([sampleset], matched(), ScoringOptions(block_size=3, threads=1))
    for threads in (2, 3):
        options = ScoringOptions(block_size=3, threads=threads)
        assert score_samplesets([sampleset], matched(), options).equals(one)


def test_automatic_block_size_bounds_memory_per_block() -> None:
    for n_samples in (10, 2_000, 200_000, 2_000_000):
        rows = block_rows(ScoringOptions(), n_samples)
        assert 64 <= rows <= 8192
        if n_samples >= 1_000:  # then a block holds about BLOCK_CELLS dosages, no more
            assert rows * n_samples <= max(streaming.BLOCK_CELLS, 64 * n_samples)
