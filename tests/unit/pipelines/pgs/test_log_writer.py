"""The match log written on its own thread: every chunk, in order, one header; a failure is
raised to the run (with the next chunk, or at close), and the chunks after it are not written."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from vatti.pipelines.pgs.match import LOG_SCHEMA
from vatti.pipelines.pgs.orchestration import LogWriter

pytestmark = pytest.mark.unit


def _chunk(first: int, n: int) -> pl.DataFrame:
    return pl.DataFrame({"row_nr": list(range(first, first + n)), "accession": ["A"] * n})


def test_chunks_are_written_in_order_under_one_header(tmp_path: Path) -> None:
    path = tmp_path / "log.tsv.gz"
    writer = LogWriter(path)
    for first in range(0, 50, 10):
        writer.write(_chunk(first, 10))
    writer.close()
    writer.close()  # closing twice is harmless
    back = pl.read_csv(path, separator="\t")
    assert back["row_nr"].to_list() == list(range(50))
    assert gzip.decompress(path.read_bytes()).decode().count("row_nr") == 1


def test_no_chunk_writes_the_header_alone(tmp_path: Path) -> None:
    path = tmp_path / "log.tsv.gz"
    LogWriter(path).close()
    assert gzip.decompress(path.read_bytes()).decode().rstrip("\n").split("\t") == list(LOG_SCHEMA)


def test_a_failed_chunk_is_raised_and_stops_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "log.tsv.gz"
    writer = LogWriter(path)
    writer.write(_chunk(0, 3))
    writer.write(pl.DataFrame({"nested": [[1, 2]]}))  # a list column has no CSV form
    with pytest.raises(pl.exceptions.PolarsError):  # raised when the next chunk comes
        writer.write(_chunk(3, 3))
    writer.close()
    assert pl.read_csv(path, separator="\t")["row_nr"].to_list() == [0, 1, 2]
