"""Reading a plink2 .afreq and picking the frequency of each scored allele."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from vatti.pipelines.pgs.freqs import (
    FREQ_COLUMN,
    ReferenceFreqsError,
    read_afreq,
    with_reference_freqs,
)

pytestmark = pytest.mark.unit

AFREQ = (
    "#CHROM\tID\tREF\tALT\tPROVISIONAL_REF?\tALT_FREQS\tOBS_CT\n"
    "1\trs1\tA\tG\tN\t0.25\t100\n"
    "1\trs2\tC\tT,G\tN\t0.1,0.3\t100\n"
)


def test_reads_plain_and_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "ref.afreq"
    plain.write_text(AFREQ)
    packed = tmp_path / "ref.afreq.gz"
    packed.write_bytes(gzip.compress(AFREQ.encode()))

    for path in (plain, packed):
        freqs = read_afreq(path)
        assert freqs["id"].to_list() == ["rs1", "rs2"]
        assert freqs["alt_freqs"].to_list() == [[0.25], [0.1, 0.3]]


def test_frequency_of_the_scored_allele(tmp_path: Path) -> None:
    path = tmp_path / "ref.afreq"
    path.write_text(AFREQ)
    rows = pl.DataFrame(
        {
            "target_id": ["rs1", "rs1", "rs2", "rs2", "rs2", "rs3", "rs1"],
            "target_ref": ["A", "A", "C", "C", "C", "A", "G"],
            "target_alt": ["G", "G", "T,G", "T,G", "T,G", "C", "A"],
            "allele_idx": [1, 0, 0, 1, 2, 1, 1],
        }
    )
    got = with_reference_freqs(rows, read_afreq(path))[FREQ_COLUMN].to_list()
    # REF is one minus the ALTs; rs3 is absent; rs1 with swapped alleles is not the same variant
    assert got[:5] == pytest.approx([0.25, 0.75, 0.6, 0.1, 0.3])
    assert got[5:] == [None, None]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("#CHROM\tID\tREF\tALT\n1\trs1\tA\tG\n", r"lacks the column\(s\) ALT_FREQS"),
        ("ID\tREF\tALT\tALT_FREQS\nrs1\tA\tG\tx\n", r"line 2: ALT_FREQS 'x'"),
        ("ID\tREF\tALT\tALT_FREQS\nrs1\tA\tG\t0.5\nrs2\tA\tG,T\t0.5\n", r"line 3: .* 'G,T'"),
        ("ID\tREF\tALT\tALT_FREQS\nrs1\tA\tG,T\t0.7,0.6\n", r"line 2: ALT_FREQS '0.7,0.6'"),
        ("ID\tREF\tALT\tALT_FREQS\nrs1\tA\tG\t-0.1\n", r"line 2"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.afreq"
    path.write_text(body)
    with pytest.raises(ReferenceFreqsError, match=message):
        read_afreq(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReferenceFreqsError, match="cannot read"):
        read_afreq(tmp_path / "absent.afreq")
