"""Parsing of .pvar/.bim (plain and zstd)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import zstandard

from vatti.pipelines.pgs.targets.errors import TargetFormatError
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
