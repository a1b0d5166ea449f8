"""Parsing of .pvar/.bim (plain and zstd), .psam and .fam."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import zstandard

from vatti.pipelines.pgs.targets.errors import TargetFormatError
from vatti.pipelines.pgs.targets.plink1 import parse_fam
from vatti.pipelines.pgs.targets.plink2 import parse_psam
from vatti.pipelines.pgs.targets.pvar import allele_counts, read_bim, read_pvar

pytestmark = pytest.mark.unit

PVAR = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=chr1>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\n"
    "chr1\t100\trs1\tA\tG\t.\n"
    "CHR1\t200\t.\tC\tT,G\t.\n"
    "1\t300\trs3\tAT\t.\t.\n"
)
EXPECTED = {
    "variant_idx": [0, 1, 2],
    "chrom": ["1", "1", "1"],
    "pos": [100, 200, 300],
    "id": ["rs1", ".", "rs3"],
    "ref": ["A", "C", "AT"],
    "alt": ["G", "T,G", "."],
}


def test_pvar_with_meta_lines_and_chr_prefix(tmp_path: Path) -> None:
    path = tmp_path / "t.pvar"
    path.write_text(PVAR)
    frame = read_pvar(path)
    assert frame.to_dict(as_series=False) == EXPECTED
    assert frame.schema["variant_idx"] == pl.UInt32
    assert frame.schema["pos"] == pl.Int64


def test_pvar_zst_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "t.pvar.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(PVAR.encode()))
    assert read_pvar(path).to_dict(as_series=False) == EXPECTED


def test_pvar_without_header_is_read_as_bim(tmp_path: Path) -> None:
    path = tmp_path / "t.pvar"
    path.write_text("1\trs1\t0\t100\tG\tA\n")
    assert read_pvar(path).row(0) == (0, "1", 100, "rs1", "A", "G")


def test_plink_numeric_chromosome_codes_are_named(tmp_path: Path) -> None:
    # plink 1.9 writes X, Y, XY and MT as 23-26 in a .bim; pgsc_calc's plink2 relabels them
    bim = tmp_path / "t.bim"
    bim.write_text("".join(f"{c}\trs{c}\t0\t100\tA\tG\n" for c in ("22", "23", "24", "25", "26")))
    assert read_bim(bim)["chrom"].to_list() == ["22", "X", "Y", "XY", "MT"]
    pvar = tmp_path / "t.pvar"
    pvar.write_text("#CHROM\tPOS\tID\tREF\tALT\n23\t100\trs1\tA\tG\nchr23\t200\trs2\tC\tT\n")
    assert read_pvar(pvar)["chrom"].to_list() == ["X", "X"]


def test_bim_alleles_a1_is_alt(tmp_path: Path) -> None:
    path = tmp_path / "t.bim.zst"
    text = "22\trs1\t0\t17080378\tA\tG\nchr22\trs2\t0.5\t17300230\tG\tA\n"
    path.write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    frame = read_bim(path)
    assert frame["ref"].to_list() == ["G", "A"]
    assert frame["alt"].to_list() == ["A", "G"]
    assert frame["chrom"].to_list() == ["22", "22"]


def test_pvar_without_required_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.pvar"
    path.write_text("#CHROM\tPOS\tID\n1\t1\tx\n")
    with pytest.raises(TargetFormatError, match="REF"):
        read_pvar(path)


def test_allele_counts() -> None:
    assert allele_counts(pl.Series(["G", "T,G", ".", "A,C,T"])).to_list() == [2, 3, 2, 4]


@pytest.mark.parametrize(
    ("text", "fids", "iids"),
    [
        ("#FID\tIID\tSEX\nf1\ti1\tNA\nf2\ti2\t1\n", ["f1", "f2"], ["i1", "i2"]),
        ("#IID\tSEX\ni1\t2\ni2\t1\n", ["i1", "i2"], ["i1", "i2"]),
        ("##comment\n#IID\ni1\n", ["i1"], ["i1"]),
        ("f1 i1 0 0 0 -9\n", ["f1"], ["i1"]),
    ],
)
def test_psam(text: str, fids: list[str], iids: list[str]) -> None:
    frame = parse_psam(text.encode(), Path("x.psam"))
    assert frame["FID"].to_list() == fids
    assert frame["IID"].to_list() == iids


def test_psam_parents_tell_founders() -> None:
    text = b"#FID\tIID\tPAT\tMAT\tSEX\nf\tdad\t0\t0\t1\nf\tmum\t0\t0\t2\nf\tkid\tdad\tmum\t1\n"
    assert parse_psam(text, Path("x.psam"))["founder"].to_list() == [True, True, False]
    half = b"#IID\tMAT\ni1\t0\ni2\tm\n"  # one parent column is enough to tell
    assert parse_psam(half, Path("x.psam"))["founder"].to_list() == [True, False]
    no_pedigree = b"#IID\tSEX\ni1\t1\n"
    assert parse_psam(no_pedigree, Path("x.psam"))["founder"].to_list() == [True]


def test_psam_without_iid_is_refused() -> None:
    with pytest.raises(TargetFormatError, match="IID"):
        parse_psam(b"#FID\tSEX\nf\t1\n", Path("x.psam"))


def test_fam() -> None:
    frame = parse_fam(b"HG1 HG1 0 0 0 -9\nF2\tI2\t0\t0\t1\t1\nF2 K3 I2 0 1 1\n", Path("x.fam"))
    assert frame.rows() == [("HG1", "HG1", True), ("F2", "I2", True), ("F2", "K3", False)]
    with pytest.raises(TargetFormatError):
        parse_fam(b"lonely\n", Path("x.fam"))
