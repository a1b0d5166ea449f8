"""The one-pass VCF.gz reader: variants listed once, GT calls kept packed for scoring."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from vatti.pipelines.pgs.targets import vcf_scan
from vatti.pipelines.pgs.targets.base import GenotypeFile
from vatti.pipelines.pgs.targets.errors import TargetFormatError
from vatti.pipelines.pgs.targets.vcf import VcfReader, gt_allele_dosage

pytestmark = pytest.mark.unit

SAMPLES = ["s1", "s2", "s3", "s4", "s5"]  # not a multiple of 4: exercises the padding
HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=chr1>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=DS,Number=A,Type=Float,Description="Dosage">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(SAMPLES) + "\n"
)
RECORDS = [
    "chr1\t100\trs1\tA\tG\t.\tPASS\t.\tGT\t0/0\t0/1\t1|1\t./.\t1|0",  # fast
    "chr1\t200\t.\tC\tT\t.\tPASS\t.\tGT\t./1\t0|0\t1/1\t0/1\t0/0",  # fast, half-missing
    "chr1\t300\trs3\tG\tA,T\t.\tPASS\t.\tGT\t0/2\t1/2\t2/2\t0/0\t./.",  # multiallelic
    "chr1\t400\trs4\tT\tC\t.\tPASS\t.\tGT\t0\t1\t0/1\t1/1\t.",  # haploid calls
    "chr1\t500\trs5\tA\tC\t.\tPASS\t.\tGT:DS\t0/1:0.9\t1/1:2\t0/0:0\t./.:.\t0/1:1",  # GT:DS
    "chr1\t600\trs6\tAT\tA\t.\tPASS\tDP=4\tGT\t1/1\t1/1\t0/0\t0/1\t0/0",  # fast again
]
#: Copies of ALT per sample (None = missing), by the VCF spec and plink2's import rules.
ALT_COPIES = [
    [0, 1, 2, None, 1],
    [None, 0, 2, 1, 0],
    None,  # multiallelic: checked per allele below
    [0, 2, 1, 2, None],
    [1, 2, 0, None, 1],
    [2, 2, 0, 1, 0],
]


def write_vcf(path: Path, records: list[str], newline: str = "\n") -> Path:
    text = HEADER + "".join(r + newline for r in records)
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    return path


def as_dense(
    reader: VcfReader, variant_idx: list[int], alleles: list[int], block: int
) -> np.ndarray:
    rows = []
    for dosage in reader.dosage_blocks(
        np.array(variant_idx, dtype=np.uint32), np.array(alleles, dtype=np.uint8), block
    ):
        values = dosage.values.copy()
        values.reshape(-1)[dosage.missing] = np.nan
        rows.append(values)
    return np.concatenate(rows)


def expected(copies: list[int | None], allele: int) -> list[float]:
    return [np.nan if c is None else float(c if allele == 1 else 2 - c) for c in copies]


@pytest.fixture
def vcf(tmp_path: Path) -> GenotypeFile:
    path = write_vcf(tmp_path / "t.vcf.gz", RECORDS)
    return GenotypeFile("vcf", path, path, path)


def test_variants_are_listed_with_the_fixed_columns(vcf: GenotypeFile) -> None:
    variants = VcfReader(vcf).read_variants()
    assert variants["variant_idx"].to_list() == list(range(6))
    assert variants["chrom"].to_list() == ["1"] * 6
    assert variants["pos"].to_list() == [100, 200, 300, 400, 500, 600]
    assert variants["id"].to_list() == ["rs1", ".", "rs3", "rs4", "rs5", "rs6"]
    assert variants["alt"].to_list() == ["G", "T", "A,T", "C", "C", "A"]
    assert variants["ref"].to_list()[-1] == "AT"


@pytest.mark.parametrize("block", [1, 2, 100])
def test_kept_calls_give_the_dosages_of_the_spec(vcf: GenotypeFile, block: int) -> None:
    VcfReader(vcf).read_variants()  # keeps the calls for the next reader of the file
    got = as_dense(VcfReader(vcf), [0, 0, 1, 3, 4, 5], [1, 0, 1, 1, 1, 0], block)
    want = [
        expected(ALT_COPIES[0], 1),
        expected(ALT_COPIES[0], 0),
        expected(ALT_COPIES[1], 1),
        expected(ALT_COPIES[3], 1),
        expected(ALT_COPIES[4], 1),
        expected(ALT_COPIES[5], 0),
    ]
    np.testing.assert_array_equal(got, np.array(want, dtype=float))


def test_multiallelic_alleles(vcf: GenotypeFile) -> None:
    VcfReader(vcf).read_variants()
    got = as_dense(VcfReader(vcf), [2, 2, 2], [0, 1, 2], 10)
    nan = np.nan
    want = [[1, 0, 0, 2, nan], [0, 1, 0, 0, nan], [1, 1, 2, 0, nan]]
    np.testing.assert_array_equal(got, np.array(want, dtype=float))


def test_kept_calls_agree_with_rereading_and_htslib(vcf: GenotypeFile) -> None:
    requests = ([0, 1, 2, 2, 3, 4, 5], [1, 1, 1, 2, 0, 1, 1])
    reread = as_dense(VcfReader(vcf), *requests, 3)  # nothing kept: reads the file again
    VcfReader(vcf).read_variants()
    kept = as_dense(VcfReader(vcf), *requests, 3)
    np.testing.assert_array_equal(kept, reread)
    from cyvcf2 import VCF

    records = list(VCF(str(vcf.geno)))
    htslib = [
        gt_allele_dosage(records[v].genotype.array(), a) for v, a in zip(*requests, strict=True)
    ]
    np.testing.assert_array_equal(kept, np.array(htslib))


def test_records_without_gt_are_missing_calls(tmp_path: Path) -> None:
    # as plink2 imports them: no GT key (first in FORMAT when present), so no call, whatever
    # the other keys hold (here DS values that would parse as haploid alleles)
    no_gt = "chr1\t700\trs7\tA\tG\t.\tPASS\t.\tDS\t1\t2\t0\t0.5\t1.000"
    path = write_vcf(tmp_path / "ds.vcf.gz", [RECORDS[0], no_gt])
    from cyvcf2 import VCF, Writer

    bcf = tmp_path / "ds.bcf"
    source = VCF(str(path))
    writer = Writer(str(bcf), source, mode="wb")
    for record in source:
        writer.write_record(record)
    writer.close()
    source.close()
    want = np.array([expected(ALT_COPIES[0], 1), [np.nan] * 5])
    for target in (path, bcf):
        file = GenotypeFile("vcf", target, target, target)
        VcfReader(file).read_variants()
        np.testing.assert_array_equal(as_dense(VcfReader(file), [0, 1], [1, 1], 10), want)


def test_crlf_lines_and_a_changed_file(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "crlf.vcf.gz", RECORDS[:2], newline="\r\n")
    file = GenotypeFile("vcf", path, path, path)
    assert VcfReader(file).read_variants()["pos"].to_list() == [100, 200]
    write_vcf(path, [RECORDS[5], RECORDS[0]])  # rewritten after listing: kept calls are stale
    got = as_dense(VcfReader(file), [0, 1], [1, 1], 10)
    np.testing.assert_array_equal(
        got, np.array([expected(ALT_COPIES[5], 1), expected(ALT_COPIES[0], 1)])
    )


def test_requests_beyond_the_file_are_refused(vcf: GenotypeFile) -> None:
    VcfReader(vcf).read_variants()
    with pytest.raises(TargetFormatError, match="fewer variants"):
        as_dense(VcfReader(vcf), [1, 9], [1, 1], 10)


@pytest.mark.parametrize("n", [1, 4, 7])
def test_packed_codes_round_trip(n: int) -> None:
    rng = np.random.default_rng(n)
    calls = rng.choice(["0/0", "0/1", "1|0", "1/1", "./.", "./1"], size=(9, n))
    width = 4 * ((n + 3) // 4)
    text = ["\t".join(list(row) + ["0/0"] * (width - n)) + "\t" for row in calls]
    cells = np.frombuffer("".join(text).encode(), dtype=np.uint8).reshape(9, 4 * width)
    packed, valid = vcf_scan.encode_rows(cells)
    assert valid.all()
    alleles = np.array([0, 1, 2] * 3, dtype=np.int16)
    values, missing = vcf_scan.decode_rows(packed, alleles, n)
    alt = np.array([[c.count("1") for c in row] for row in calls], dtype=float)
    want = np.where(alleles[:, None] == 1, alt, np.where(alleles[:, None] == 0, 2 - alt, 0))
    lost = np.array([["." in c for c in row] for row in calls])
    np.testing.assert_array_equal(missing, np.flatnonzero(lost))
    want[lost] = 0
    np.testing.assert_array_equal(values, want)


def test_calls_that_are_not_biallelic_three_bytes_are_flagged() -> None:
    cells = np.frombuffer(b"0/1\t0/2\t1/1\t0-0\t", dtype=np.uint8).reshape(4, 4)
    _, valid = vcf_scan.encode_rows(np.repeat(cells.reshape(1, 16), 1, axis=0))
    assert not valid.any()
    ok = np.frombuffer(b"0/1\t1|1\t./.\t0/0\t", dtype=np.uint8).reshape(1, 16)
    assert vcf_scan.encode_rows(ok)[1].all()
