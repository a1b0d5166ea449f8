"""The BGEN reader on tiny files written here byte by byte (the format's spec, layout 2), with
the expected dosages computed by hand: every compression (none, zlib, zstd), bit depths that are
and are not whole bytes, phased and unphased, multiallelic, haploid and missing calls."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import zstandard

from vatti.pipelines.pgs.targets import GenotypeFile, open_reader
from vatti.pipelines.pgs.targets.bgen import parse_sample_file
from vatti.pipelines.pgs.targets.errors import TargetFormatError

pytestmark = pytest.mark.unit

SAMPLES = ("s1", "s2", "s3")


@dataclass
class Variant:
    chrom: str
    pos: int
    alleles: tuple[str, ...]
    #: per sample: (ploidy, missing, stored probabilities as integers of ``bits`` bits)
    calls: list[tuple[int, bool, list[int]]]
    phased: bool = False
    bits: int = 8


def _string(text: str, width: str = "H") -> bytes:
    return struct.pack(f"<{width}", len(text)) + text.encode()


def _pack_bits(values: list[int], bits: int) -> bytes:
    number, at = 0, 0
    for value in values:
        number |= value << at
        at += bits
    return number.to_bytes((at + 7) // 8, "little")


def _genotypes(v: Variant) -> bytes:
    ploidies = [p for p, _, _ in v.calls]
    data = struct.pack("<IHBB", len(v.calls), len(v.alleles), min(ploidies), max(ploidies))
    data += bytes(p | (0x80 if missing else 0) for p, missing, _ in v.calls)
    data += bytes([int(v.phased), v.bits])
    return data + _pack_bits([x for _, _, probs in v.calls for x in probs], v.bits)


def write_bgen(path: Path, variants: list[Variant], compression: int, layout: int = 2) -> Path:
    ids = b"".join(_string(s) for s in SAMPLES)
    sample_block = struct.pack("<II", 8 + len(ids), len(SAMPLES)) + ids
    flags = compression | (layout << 2) | (1 << 31)
    header = (
        struct.pack("<III", 20, len(variants), len(SAMPLES)) + b"bgen" + struct.pack("<I", flags)
    )
    body = b""
    for v in variants:
        body += _string(f"{v.chrom}:{v.pos}") + _string(f"rs{v.pos}") + _string(v.chrom)
        body += struct.pack("<IH", v.pos, len(v.alleles))
        body += b"".join(_string(a, "I") for a in v.alleles)
        raw = _genotypes(v)
        if compression == 0:
            body += struct.pack("<I", len(raw)) + raw
        else:
            packed = zlib.compress(raw) if compression == 1 else zstandard.compress(raw)
            body += struct.pack("<II", len(packed) + 4, len(raw)) + packed
    path.write_bytes(
        struct.pack("<I", len(header) + len(sample_block)) + header + sample_block + body
    )
    return path


def alt_dosages(path: Path, alleles: list[int] | None = None) -> np.ndarray:
    file = GenotypeFile("bgen", path, path, path)
    with open_reader(file) as reader:
        n = reader.read_variants().height
        wanted = np.array(alleles or [1] * n, dtype=np.uint8)
        [block] = reader.dosage_blocks(np.arange(n, dtype=np.uint32), wanted, 64)
        values = block.values.copy()
        values.reshape(-1)[block.missing] = np.nan
    return values


UNPHASED = Variant(
    "01",
    100,
    ("A", "G"),
    # (P11, P12) in 255ths: AA, AG, GG, and P22 = 0.4, P12 = 0.4 (ALT dosage 1.2)
    [(2, False, [255, 0]), (2, False, [0, 255]), (2, False, [51, 102])],
)
PHASED_3BIT = Variant(
    "22",
    200,
    ("C", "T"),
    # per haplotype P(first allele) in 7ths; s3 missing (its probabilities are zeros)
    [(2, False, [7, 0]), (2, False, [0, 0]), (2, True, [0, 0])],
    phased=True,
    bits=3,
)


@pytest.mark.parametrize("compression", [0, 1, 2])
def test_dosages_in_every_compression_and_bit_depth(tmp_path: Path, compression: int) -> None:
    path = write_bgen(tmp_path / "x.bgen", [UNPHASED, PHASED_3BIT], compression)
    values = alt_dosages(path)
    np.testing.assert_allclose(values[0], [0.0, 1.0, 1.2], atol=1 / 16384)
    np.testing.assert_array_equal(values[1, :2], [1.0, 2.0])
    assert np.isnan(values[1, 2])


def test_variants_and_samples(tmp_path: Path) -> None:
    path = write_bgen(tmp_path / "x.bgen", [UNPHASED, PHASED_3BIT], 1)
    with open_reader(GenotypeFile("bgen", path, path, path)) as reader:
        variants = reader.read_variants()
        samples = reader.read_samples()
    assert variants.select("chrom", "pos", "id", "ref", "alt").rows() == [
        ("1", 100, "rs100", "A", "G"),
        ("22", 200, "rs200", "C", "T"),
    ]
    assert samples["IID"].to_list() == list(SAMPLES)
    assert samples["FID"].to_list() == list(SAMPLES)


def test_ref_copies_are_two_minus_alt(tmp_path: Path) -> None:
    path = write_bgen(tmp_path / "x.bgen", [UNPHASED], 0)
    np.testing.assert_allclose(alt_dosages(path, [0])[0], [2.0, 1.0, 0.8], atol=1 / 16384)


def test_multiallelic_unphased_and_phased(tmp_path: Path) -> None:
    # K=3 unphased: stored 11, 12, 22, 13, 23 (33 implied), in 15ths (4 bits)
    unphased = Variant(
        "2", 5, ("A", "C", "G"),
        [(2, False, [0, 0, 0, 15, 0]), (2, False, [0, 0, 0, 0, 0]), (2, False, [0, 0, 15, 0, 0])],
        bits=4,
    )  # fmt: skip
    # K=3 phased: per haplotype P(A), P(C) (G implied)
    phased = Variant(
        "2", 9, ("A", "C", "G"),
        [(2, False, [255, 0, 0, 255]), (2, False, [0, 0, 0, 0]), (2, False, [0, 255, 0, 255])],
        phased=True,
    )  # fmt: skip
    path = write_bgen(tmp_path / "m.bgen", [unphased, phased], 2)
    values = alt_dosages(path, [2, 1])
    np.testing.assert_array_equal(values[0], [1.0, 2.0, 0.0])  # copies of G: AG, GG, CC
    np.testing.assert_array_equal(values[1], [1.0, 0.0, 2.0])  # copies of C: A|C, G|G, C|C


def test_haploid_calls_count_as_homozygous(tmp_path: Path) -> None:
    mixed = Variant("X", 7, ("A", "G"), [(1, False, [0]), (2, False, [0, 255]), (1, False, [255])])
    values = alt_dosages(write_bgen(tmp_path / "x.bgen", [mixed], 1))
    np.testing.assert_array_equal(values[0], [2.0, 1.0, 0.0])


def test_a_triploid_call_is_refused(tmp_path: Path) -> None:
    odd = Variant("1", 7, ("A", "G"), [(3, False, [0, 0, 0])] * 3)
    with pytest.raises(TargetFormatError, match="ploidy 3"):
        alt_dosages(write_bgen(tmp_path / "x.bgen", [odd], 1))


def test_layout_1_and_other_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TargetFormatError, match="layout 1"):
        alt_dosages(write_bgen(tmp_path / "old.bgen", [UNPHASED], 1, layout=1))
    (tmp_path / "no.bgen").write_bytes(b"\x14\0\0\0" + b"\0" * 16 + b"nope" + b"\0" * 8)
    with pytest.raises(TargetFormatError, match="not a BGEN file"):
        alt_dosages(tmp_path / "no.bgen")


def test_a_damaged_block_is_a_clear_error(tmp_path: Path) -> None:
    path = write_bgen(tmp_path / "x.bgen", [UNPHASED], 1)
    data = bytearray(path.read_bytes())
    data[-6:] = b"\xff" * 6
    path.write_bytes(bytes(data))
    with pytest.raises(TargetFormatError, match="variant 0"):
        alt_dosages(path)


def test_sample_file_ids() -> None:
    text = b"ID_1 ID_2 missing sex\n0 0 0 D\n0 HG1 0 1\nF2 HG2 0 2\n"
    samples = parse_sample_file(text, Path("x.sample"))
    assert samples.select("FID", "IID").rows() == [("HG1", "HG1"), ("F2", "HG2")]
    with pytest.raises(TargetFormatError, match="ID_1 ID_2"):
        parse_sample_file(b"FID IID\n", Path("x.sample"))
