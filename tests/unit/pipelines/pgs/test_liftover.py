"""Chain files and the lift of positions, on hand-written chains with hand-computed answers."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from vatti.pipelines.pgs.liftover import (
    CHROMOSOME_LENGTHS,
    Liftover,
    LiftoverError,
    parse_chain,
    read_chain,
)
from vatti.pipelines.pgs.scorefile import DROP_UNLIFTED, ScoringFileBuildError, read_scoring_file
from vatti.pipelines.pgs.vocabulary import GenomeBuild

pytestmark = pytest.mark.unit

B37, B38 = CHROMOSOME_LENGTHS[GenomeBuild.GRCh37], CHROMOSOME_LENGTHS[GenomeBuild.GRCh38]
#: chr22 of "GRCh37" to GRCh38: [1000, 1100) -> [5000, 5100), a gap of 50 in the source and
#: 10 in the target, [1150, 1200) -> [5110, 5160); a second, weaker chain covers [1000, 1300)
#: on chr21; and chr1 on the reverse strand: [0, 100) -> the last 100 bases.
CHAIN = f"""chain 5000 chr22 {B37["22"]} + 1000 1200 chr22 {B38["22"]} + 5000 5160 1
100 50 10
50

chain 10 chr22 {B37["22"]} + 1000 1300 chr21 46709983 + 0 300 2
300

chain 900 chr1 {B37["1"]} + 0 100 chr1 {B38["1"]} - 0 100 3
100
"""


def lift(chrom: list[str | None], pos: list[int | None]) -> list[tuple[str | None, int | None]]:
    c, p = parse_chain(CHAIN).lift(pl.Series(chrom, dtype=pl.Utf8), pl.Series(pos, dtype=pl.Int64))
    return list(zip(c.to_list(), p.to_list(), strict=True))


def test_positions_map_through_blocks_and_gaps() -> None:
    # 1-based: source 1001 is 0-based 1000 -> 5000 -> 5001; 1151 -> 0-based 1150 -> 5110 -> 5111
    assert lift(["22", "22", "22"], [1001, 1100, 1151]) == [
        ("22", 5001),
        ("22", 5100),
        ("22", 5111),
    ]


def test_the_best_chain_wins_and_a_weaker_one_fills_its_gaps() -> None:
    # 1120 is in the first chain's gap: the chr21 chain (score 10) maps it; 1250 only it covers
    assert lift(["22", "22"], [1120, 1250]) == [("21", 120), ("21", 250)]


def test_unmapped_and_missing_positions_are_null() -> None:
    assert lift(["22", "22", "5", None], [10, 2000, 100, 1001]) == [(None, None)] * 4


def test_reverse_strand_counts_from_the_end() -> None:
    size = B38["1"]
    assert lift(["1", "1"], [1, 100]) == [("1", size), ("1", size - 99)]


def test_a_chain_for_the_other_direction_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.chain.gz"
    path.write_bytes(gzip.compress(CHAIN.encode()))
    chain = read_chain(path)
    chain.check_builds(GenomeBuild.GRCh37, GenomeBuild.GRCh38, path)
    with pytest.raises(LiftoverError, match="does not lift GRCh38 to GRCh37"):
        chain.check_builds(GenomeBuild.GRCh38, GenomeBuild.GRCh37, path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no chains"),
        ("chain 1 chr1 10 + 0 5\n5\n", "malformed chain header|expected a 'chain'"),
        ("chain 1 chr1 10 + 0 5 chr1 10 + 0 5 1\n5 1 1\n", "the chain ending the file"),
        ("chain 1 chr1 10 + 0 5 chr1 10 + 0 5 1\n5 1\n", "a block line is size"),
        ("chain 1 chr1 10 + 0 5 chr1 10 + 0 5 1\nx\n", "not a block line"),
    ],
)
def test_malformed_chains_are_refused(text: str, message: str) -> None:
    with pytest.raises(LiftoverError, match=message):
        parse_chain(text)


HEADER37 = "#pgs_id=custom\n#genome_build=GRCh37\n"
COLUMNS = "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"


def test_a_scoring_file_is_lifted_and_counts_what_did_not_lift(tmp_path: Path) -> None:
    rows = "".join(f"22\t{p}\tA\tG\t0.1\n" for p in range(1001, 1101))  # all in the first block
    chain = tmp_path / "lift.chain"
    chain.write_text(CHAIN)
    path = tmp_path / "s.txt"
    path.write_text(HEADER37 + COLUMNS + rows + "22\t9000\tA\tG\t1\n")
    with pytest.raises(ScoringFileBuildError):
        read_scoring_file(path, "GRCh38")
    result = read_scoring_file(path, "GRCh38", Liftover.read(chain))
    assert result.variants["chr_position"].to_list() == list(range(5001, 5101))
    assert result.dropped == {DROP_UNLIFTED: 1}
    assert read_scoring_file(path, "GRCh37", Liftover.read(chain)).variants.height == 101


def test_a_file_that_lifts_badly_fails(tmp_path: Path) -> None:
    chain = tmp_path / "lift.chain"
    chain.write_text(CHAIN)
    rows = "22\t1001\tA\tG\t1\n" + "22\t9000\tA\tG\t1\n" * 5
    path = tmp_path / "s.txt"
    path.write_text(HEADER37 + COLUMNS + rows)
    with pytest.raises(LiftoverError, match="only 1 of 6 positions lift"):
        read_scoring_file(path, "GRCh38", Liftover.read(chain))


def test_a_file_without_a_build_cannot_be_lifted(tmp_path: Path) -> None:
    chain = tmp_path / "lift.chain"
    chain.write_text(CHAIN)
    path = tmp_path / "s.txt"
    path.write_text("#pgs_id=custom\n" + COLUMNS + "22\t1001\tA\tG\t1\n")
    with pytest.raises(LiftoverError, match="not reported"):
        read_scoring_file(path, "GRCh38", Liftover.read(chain))
