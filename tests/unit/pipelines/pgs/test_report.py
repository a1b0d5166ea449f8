"""Match log and summary files, and their column documentation."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import polars as pl
import pytest

from vatti.pipelines.pgs.match import MatchOptions, match_variants
from vatti.pipelines.pgs.report import COLUMNS, write_match_log, write_summary

pytestmark = pytest.mark.unit


def _result() -> tuple[pl.DataFrame, pl.DataFrame]:
    scoring = pl.DataFrame(
        {
            "accession": ["S", "S", "S"],
            "row_nr": [0, 1, 2],
            "chr_name": ["1", "1", "1"],
            "chr_position": [100, 200, 300],
            "effect_allele": ["G", "A", "A"],
            "other_allele": ["A", "T", None],
            "effect_weight": [0.5, -1.0, 2.0],
            "effect_type": ["additive", "additive", "additive"],
        }
    )
    target = pl.DataFrame(
        {
            "file_idx": [0, 0],
            "variant_idx": [0, 1],
            "chrom": ["1", "1"],
            "pos": [100, 200],
            "id": ["rs1", "rs2"],
            "ref": ["A", "A"],
            "alt": ["G", "T"],
        }
    )
    result = match_variants(scoring, target, MatchOptions(), "cohort")
    return result.log, result.summary


def test_every_output_column_is_documented() -> None:
    log, summary = _result()
    assert set(log.columns) | set(summary.columns) == set(COLUMNS)
    assert all(text.strip() and text.isascii() for text in COLUMNS.values())


def test_match_log_is_gzipped_tsv(tmp_path: Path) -> None:
    log, _ = _result()
    path = tmp_path / "match_log.tsv.gz"
    write_match_log(log, path)
    text = gzip.decompress(path.read_bytes()).decode()
    assert text.splitlines()[0].split("\t") == log.columns
    back = pl.read_csv(io.StringIO(text), separator="\t", schema=log.schema)
    assert back["match_status"].to_list() == ["matched", "excluded", "unmatched"]
    assert back["target_id"].to_list() == ["rs1", "rs2", None]


def test_summary_json_and_tsv(tmp_path: Path) -> None:
    _, summary = _result()
    write_summary(summary, tmp_path / "summary.json", tmp_path / "summary.tsv")
    records = json.loads((tmp_path / "summary.json").read_text())
    assert len(records) == 1
    record = records[0]
    assert (record["sampleset"], record["accession"], record["n_variants"]) == ("cohort", "S", 3)
    assert (record["n_matched"], record["n_excluded_ambiguous"], record["passed"]) == (1, 1, False)
    tsv = pl.read_csv(tmp_path / "summary.tsv", separator="\t")
    assert tsv.columns == summary.columns
    assert tsv["n_altref"].to_list() == [1]
