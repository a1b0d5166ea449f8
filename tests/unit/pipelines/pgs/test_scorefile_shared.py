"""Every scoring file of the shared PGS test data: the good ones parse with the row counts
counted here with plain Python, the bad ones fail with a clear error, and the results agree
with pgscatalog-format's own normalised output where the shared data holds it."""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

import polars as pl
import pytest

from vatti.pipelines.pgs.scorefile import (
    ScoringFileBuildError,
    ScoringFileError,
    UnsupportedScoringFile,
    combined_variants,
    read_scoring_file,
    read_scoring_files,
)
from vatti.testing.services import shared_pgs_data

pytestmark = pytest.mark.unit

EXAMPLES = "pgsc_calc/assets/examples/scorefiles"
CORE = "pygscatalog/pgscatalog.utils/packages/pgscatalog.core/tests/data"


@pytest.fixture(scope="module")
def data() -> Path:
    return shared_pgs_data()


def _text(path: Path) -> str:
    raw = path.read_bytes()
    return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()


def _rows(path: Path) -> list[dict[str, str]]:
    """The data rows, read with the csv module (independent of the code under test)."""
    body = [line for line in _text(path).splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(body)), delimiter="\t", quoting=3))


GOOD = [
    (f"{EXAMPLES}/PGS001229_22.txt", "GRCh37"),
    (f"{EXAMPLES}/PGS001229_22_duplicate.txt", "GRCh37"),
    (f"{EXAMPLES}/customgrch37.txt", "GRCh37"),
    (f"{EXAMPLES}/customgrch38.txt", "GRCh38"),
    (f"{EXAMPLES}/scorefile.txt", "GRCh37"),
    (f"{EXAMPLES}/scorefile_dominant_and_recessive.txt", "GRCh37"),
    ("pgsc_calc/tests/subworkflows/perfect.txt", "GRCh37"),
    ("generated/cineca_multiscore/domrec_scorefile_with_header.txt", "GRCh37"),
    (f"{CORE}/PGS000001_hmPOS_GRCh37.txt", "GRCh37"),
    (f"{CORE}/PGS000001_hmPOS_GRCh37.txt.gz", "GRCh37"),
    (f"{CORE}/PGS000001_hmPOS_GRCh38.txt", "GRCh38"),
    (f"{CORE}/PGS000001_hmPOS_GRCh38.txt.gz", "GRCh38"),
    (f"{CORE}/PGS000002_hmPOS_GRCh37.txt.gz", "GRCh37"),
    (f"{CORE}/PGS000002_hmPOS_GRCh38.txt.gz", "GRCh38"),
    (f"{CORE}/PGS000802_hmPOS_GRCh37.txt", "GRCh37"),
    (f"{CORE}/OPGS002493.txt.gz", "GRCh37"),
    (f"{CORE}/OPGS017309.txt", "GRCh37"),
    (f"{CORE}/OPGS017309_hmPOS_GRCh38.txt.gz", "GRCh38"),
    (f"{CORE}/OPGS019828.txt", "GRCh37"),
    (f"{CORE}/OPGS019828_hmPOS_GRCh38.txt.gz", "GRCh38"),
    (f"{CORE}/custom.txt", "GRCh37"),
    (f"{CORE}/custom_no_oa.txt", "GRCh37"),
    (f"{CORE}/lift_to_grch37.txt", "GRCh38"),
    (f"{CORE}/lift_to_grch38.txt", "GRCh37"),
    (f"{CORE}/lift/PGS000001_hmPOS_GRCh37.txt", "GRCh37"),
    (f"{CORE}/lift/PGS000001_hmPOS_GRCh38.txt", "GRCh38"),
]


@pytest.mark.parametrize(("name", "build"), GOOD)
def test_good_files_keep_every_row(data: Path, name: str, build: str) -> None:
    path = data / name
    rows = _rows(path)
    result = read_scoring_file(path, build)

    assert result.variants.height == len(rows)
    assert result.dropped == {}
    assert result.variants["row_nr"].to_list() == list(range(len(rows)))
    weights = [float(r["effect_weight"]) for r in rows]
    assert result.variants["effect_weight"].to_list() == pytest.approx(weights)
    position = "hm_pos" if "hm_pos" in rows[0] else "chr_position"
    assert result.variants["chr_position"].to_list() == [int(r[position]) for r in rows]


@pytest.mark.parametrize(
    ("name", "build", "error", "pattern"),
    [
        (f"{EXAMPLES}/multiscore.txt", None, ScoringFileError, "'effect_weight' is missing"),
        (f"{EXAMPLES}/test.scorefile", None, ScoringFileError, "'effect_weight' is missing"),
        (f"{CORE}/PGS000001.txt.gz", "GRCh38", ScoringFileError, "rsID-only"),
        (f"{CORE}/PGS000002.txt.gz", None, ScoringFileError, "rsID-only"),
        (f"{CORE}/invalid_scorefile.txt", None, ScoringFileError, "rsID-only"),
        (f"{CORE}/complex_variants_PGS000021.txt", None, ScoringFileError, "rsID-only"),
        (f"{CORE}/bad_harmonised.txt", "GRCh38", ScoringFileError, "no usable variants"),
        (f"{CORE}/PGS004255_hmPOS_GRCh38.txt.gz", "GRCh38", UnsupportedScoringFile, "dosage_N"),
        (f"{CORE}/combined.txt.gz", None, ScoringFileError, "normalised"),
        (f"{EXAMPLES}/PGS001229_22.txt", "GRCh38", ScoringFileBuildError, "hmPOS_GRCh38"),
        (f"{CORE}/PGS000001_hmPOS_GRCh37.txt.gz", "GRCh38", ScoringFileBuildError, "harmonized"),
        (f"{CORE}/complex_variants_PGS004239.txt", "GRCh38", ScoringFileBuildError, "NR"),
    ],
)
def test_invalid_or_unusable_files_fail_clearly(
    data: Path, name: str, build: str | None, error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        read_scoring_file(data / name, build)


def test_build_error_names_the_score(data: Path) -> None:
    with pytest.raises(ScoringFileBuildError) as info:
        read_scoring_file(data / CORE / "lift_to_grch38.txt", "GRCh38")
    assert str(info.value) == (
        "PGS000001: genome build GRCh37 differs from the target build GRCh38 and the file "
        "has no harmonized positions (download the hmPOS_GRCh38 file, or lift it over with a "
        "chain file)"
    )


def test_complex_variants_are_dropped(data: Path) -> None:
    path = data / CORE / "complex_variants_PGS004239.txt"
    rows = _rows(path)
    simple = [
        r
        for r in rows
        if r["is_haplotype"].upper() != "TRUE" and re.fullmatch("[ACGT]+", r["effect_allele"])
    ]
    result = read_scoring_file(path, None)
    assert result.variants.height == len(simple) > 0
    assert sum(result.dropped.values()) == len(rows) - len(simple)


def test_dominant_recessive_flags_match_the_file(data: Path) -> None:
    path = data / CORE / "PGS000802_hmPOS_GRCh37.txt"
    expected = [
        "dominant"
        if r["is_dominant"] == "True"
        else "recessive"
        if r["is_recessive"] == "True"
        else "additive"
        for r in _rows(path)
    ]
    assert read_scoring_file(path, "GRCh37").variants["effect_type"].to_list() == expected


def _normalised(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path, separator="\t", infer_schema=False)
    return frame.select(
        "accession",
        pl.col("row_nr").cast(pl.Int64),
        "chr_name",
        pl.col("chr_position").cast(pl.Int64),
        "effect_allele",
        pl.col("other_allele").replace("", None),
        pl.col("effect_weight").cast(pl.Float64),
        "effect_type",
        pl.col("is_duplicated") == "True",
    )


COMPARED = [
    "accession",
    "row_nr",
    "chr_name",
    "chr_position",
    "effect_allele",
    "other_allele",
    "effect_weight",
    "effect_type",
    "is_duplicated",
]


def test_agrees_with_pgscatalog_format_on_the_test_profile(data: Path) -> None:
    ours = read_scoring_file(data / EXAMPLES / "PGS001229_22.txt", "GRCh37").variants
    theirs = _normalised(data / "generated/cineca_PGS001229_22/normalised_PGS001229_22.txt")
    assert ours.select(COMPARED).equals(theirs.select(COMPARED))


def test_agrees_with_pgscatalog_format_on_combined_harmonized_files(data: Path) -> None:
    files = read_scoring_files(
        [
            data / CORE / "PGS000002_hmPOS_GRCh37.txt.gz",
            data / CORE / "PGS000001_hmPOS_GRCh37.txt.gz",
        ],
        "GRCh37",
    )
    ours = combined_variants(files).select(COMPARED)
    theirs = _normalised(data / CORE / "combined.txt.gz").select(COMPARED)
    assert ours.equals(theirs)
