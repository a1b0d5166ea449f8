"""Reading scoring files: hand-written files that show each rule."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from vatti.errors import VattiError
from vatti.pipelines.pgs.scorefile import (
    DROP_COMPLEX,
    DROP_NO_POSITION,
    DROP_NON_ACGT,
    SCORE_VARIANT_SCHEMA,
    DuplicateAccession,
    ScoringFileBuildError,
    ScoringFileError,
    UnsupportedScoringFile,
    combined_variants,
    read_scoring_file,
    read_scoring_files,
)

pytestmark = pytest.mark.unit

HEADER = "#pgs_id=PGS000099\n#trait_reported=test\n#genome_build=GRCh38\n"


def _write(tmp_path: Path, text: str, name: str = "score.txt") -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _table(*rows: str, columns: str) -> str:
    return "\n".join([columns.replace(" ", "\t"), *(r.replace(" ", "\t") for r in rows)]) + "\n"


POS = "chr_name chr_position effect_allele other_allele effect_weight"


def test_plain_file_gives_one_row_per_variant(tmp_path: Path) -> None:
    text = HEADER + _table("chr22 100 a G 0.5", "X 200 T C -1e-2", columns=POS)
    result = read_scoring_file(_write(tmp_path, text), "GRCh38")

    assert result.header.accession == "PGS000099"
    assert result.header.genome_build == "GRCh38"
    assert result.variants.schema == pl.Schema(SCORE_VARIANT_SCHEMA)
    assert result.variants.select(
        "chr_name", "chr_position", "effect_allele", "effect_weight", "row_nr"
    ).rows() == [("22", 100, "A", 0.5, 0), ("X", 200, "T", -0.01, 1)]
    assert result.variants["effect_type"].to_list() == ["additive", "additive"]
    assert result.dropped == {}


def test_gzipped_file_reads_like_plain(tmp_path: Path) -> None:
    text = HEADER + _table("1 100 A G 0.5", columns=POS)
    plain = read_scoring_file(_write(tmp_path, text), None)
    packed = read_scoring_file(_write(tmp_path, text, "score.txt.gz"), None)
    assert plain.variants.equals(packed.variants)


def test_build_mismatch_without_harmonized_positions_is_refused(tmp_path: Path) -> None:
    text = HEADER.replace("GRCh38", "GRCh37") + _table("1 100 A G 0.5", columns=POS)
    with pytest.raises(ScoringFileBuildError, match="download the hmPOS_GRCh38 file"):
        read_scoring_file(_write(tmp_path, text), "GRCh38")
    # hg19 is an alias of GRCh37
    text = HEADER.replace("GRCh38", "hg19") + _table("1 100 A G 0.5", columns=POS)
    assert read_scoring_file(_write(tmp_path, text), "GRCh37").variants.height == 1


HM = POS + " hm_chr hm_pos hm_inferOtherAllele"
HM_HEADER = HEADER.replace("GRCh38", "NR") + "#HmPOS_build=GRCh38\n#HmPOS_date=2024-01-01\n"


def test_harmonized_positions_and_inferred_other_allele(tmp_path: Path) -> None:
    text = HM_HEADER + _table(
        "1 5 A NA 0.1 2 500 C",
        "1 6 A NA 0.2 2 600 C/G",
        "1 7 A T 0.3 2 700 C",
        "1 8 A T 0.4 NA NA NA",
        columns=HM,
    ).replace("NA", "")
    result = read_scoring_file(_write(tmp_path, text), "GRCh38")
    assert result.header.harmonized_build == "GRCh38"
    assert result.variants.select("chr_name", "chr_position", "other_allele").rows() == [
        ("2", 500, "C"),
        ("2", 600, None),
        ("2", 700, "T"),
    ]
    assert result.dropped == {DROP_NO_POSITION: 1}
    with pytest.raises(ScoringFileBuildError, match="hmPOS_GRCh37"):
        read_scoring_file(_write(tmp_path, text), "GRCh37")


def test_rsid_only_file_is_refused(tmp_path: Path) -> None:
    text = HEADER + _table("rs1 A G 0.5", columns="rsID effect_allele other_allele effect_weight")
    with pytest.raises(ScoringFileError, match="rsID-only"):
        read_scoring_file(_write(tmp_path, text), "GRCh38")


def test_dominant_and_recessive_flags(tmp_path: Path) -> None:
    cols = POS + " is_dominant is_recessive"
    text = HEADER + _table(
        "1 1 A G 1 TRUE FALSE", "1 2 A G 1 False True", "1 3 A G 1 FALSE FALSE", columns=cols
    )
    result = read_scoring_file(_write(tmp_path, text), "GRCh38")
    assert result.variants["effect_type"].to_list() == ["dominant", "recessive", "additive"]

    both = HEADER + _table("1 1 A G 1 FALSE FALSE", "1 2 A G 1 TRUE TRUE", columns=cols)
    with pytest.raises(ScoringFileError, match=r"line 6.*both dominant and recessive"):
        read_scoring_file(_write(tmp_path, both), "GRCh38")


def test_non_additive_scores_are_refused(tmp_path: Path) -> None:
    cols = "chr_name chr_position effect_allele dosage_0_weight dosage_1_weight dosage_2_weight"
    text = HEADER + _table("1 1 A 0 0.1 0.3", columns=cols)
    with pytest.raises(UnsupportedScoringFile, match=r"dosage_N_weight\) are not supported"):
        read_scoring_file(_write(tmp_path, text), "GRCh38")


def test_interaction_terms_are_refused(tmp_path: Path) -> None:
    text = HEADER + _table("1 1 A G 1 FALSE", "1 2 A G 1 TRUE", columns=POS + " is_interaction")
    with pytest.raises(UnsupportedScoringFile, match=r"line 6.*interaction"):
        read_scoring_file(_write(tmp_path, text), "GRCh38")


def test_complex_variants_are_dropped_and_counted(tmp_path: Path) -> None:
    cols = POS + " is_haplotype is_diplotype"
    text = HEADER + _table(
        "1 1 A G 1 FALSE FALSE",
        "6 2 A G 1 TRUE FALSE",
        "6 3 A G 1 FALSE TRUE",
        "6 4 HLA-B*27 G 1 FALSE FALSE",
        "6 5 P G 1 FALSE FALSE",
        columns=cols,
    )
    result = read_scoring_file(_write(tmp_path, text), "GRCh38")
    assert result.variants["row_nr"].to_list() == [0]
    assert result.dropped == {DROP_COMPLEX: 2, DROP_NON_ACGT: 2}


def test_duplicates_within_a_score_are_flagged_after_the_first(tmp_path: Path) -> None:
    text = HEADER + _table(
        "1 1 A G 1", "1 1 G A 2", "1 1 A G 3", "1 1 A T 4", "1 1 A G 5", columns=POS
    )
    result = read_scoring_file(_write(tmp_path, text), "GRCh38")
    assert result.variants["is_duplicated"].to_list() == [False, False, True, False, True]


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ("1 x A G 0.5", r"line 5, column 'chr_position': 'x' is not a number"),
        ("1 1 A G abc", r"line 5, column 'effect_weight': 'abc' is not a number"),
        ("1 1 A G NA", r"line 5, column 'effect_weight': the effect weight is missing"),
        ("1 1 NA G 1", r"line 5, column 'effect_allele': the effect allele is missing"),
    ],
)
def test_bad_values_name_the_line_and_column(tmp_path: Path, body: str, pattern: str) -> None:
    text = HEADER + _table(body, columns=POS).replace("NA", "")
    path = _write(tmp_path, text)
    with pytest.raises(ScoringFileError, match=pattern) as info:
        read_scoring_file(path, "GRCh38")
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "empty"),
        (HEADER, "no column header"),
        (HEADER + "chr_name\tchr_position\teffect_allele\teffect_weight\n", "no variants"),
        (
            HEADER + _table("1 1 A G", columns="chr_name chr_position effect_allele other_allele"),
            "'effect_weight' is missing",
        ),
    ],
)
def test_structurally_invalid_files(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(ScoringFileError, match=pattern):
        read_scoring_file(_write(tmp_path, text), "GRCh38")


def test_corrupt_gzip_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt.gz"
    path.write_bytes(gzip.compress(b"#pgs_id=x\n" * 100)[:30])
    with pytest.raises(ScoringFileError, match="not a readable gzip file"):
        read_scoring_file(path, None)
    with pytest.raises(ScoringFileError, match="cannot read"):
        read_scoring_file(tmp_path / "absent.txt", None)


@pytest.mark.parametrize(
    ("header", "accession"),
    [
        ("#pgs_id=PGS000001\n#pgs_name=x\n", "PGS000001"),
        ("#omicspred_id=OPGS000001\n#pgs_name=x\n", "OPGS000001"),
        ("#pgs_name=my_score\n", "my_score"),
        ("", "custom_file"),
    ],
)
def test_accession_fallbacks(tmp_path: Path, header: str, accession: str) -> None:
    path = _write(tmp_path, header + _table("1 1 A G 1", columns=POS), "custom_file.txt.gz")
    assert read_scoring_file(path, None).header.accession == accession


def test_several_files_combine_and_accessions_must_differ(tmp_path: Path) -> None:
    one = _write(tmp_path, HEADER + _table("1 1 A G 1", columns=POS), "one.txt")
    other = HEADER.replace("PGS000099", "PGS000100")
    two = _write(tmp_path, other + _table("1 2 A G 1", "1 3 A G 1", columns=POS), "two.txt")
    files = read_scoring_files([one, two], "GRCh38")
    combined = combined_variants(files)
    assert combined["accession"].to_list() == ["PGS000099", "PGS000100", "PGS000100"]
    assert combined.schema == pl.Schema(SCORE_VARIANT_SCHEMA)

    with pytest.raises(DuplicateAccession, match="PGS000099"):
        read_scoring_files([one, one], "GRCh38")
    with pytest.raises(DuplicateAccession):
        combined_variants([files[0], files[0]])


def test_errors_carry_a_stable_code(tmp_path: Path) -> None:
    with pytest.raises(VattiError) as info:
        read_scoring_file(_write(tmp_path, ""), None)
    assert info.value.code == "pgs_scorefile_invalid"


def test_half_a_million_rows_parse(tmp_path: Path) -> None:
    n = 500_000
    lines = [f"{1 + i % 22}\t{1000 + i}\tA\tG\t{i / n:.6f}" for i in range(n)]
    path = tmp_path / "big.txt.gz"
    body = HEADER + POS.replace(" ", "\t") + "\n" + "\n".join(lines) + "\n"
    path.write_bytes(gzip.compress(body.encode(), compresslevel=1))

    result = read_scoring_file(path, "GRCh38")

    assert result.variants.height == n
    assert result.variants["chr_position"].to_list()[-1] == 1000 + n - 1


WIDE = "chr_name chr_position effect_allele other_allele effect_weight_a effect_weight_b"


def test_several_weight_columns_are_one_score_each(tmp_path: Path) -> None:
    rows = "22\t100\tA\tG\t0.5\t1.5\n22\t200\tT\tC\t-1\t\n"  # the second has no weight b
    text = HEADER + WIDE.replace(" ", "\t") + "\n" + rows
    result = read_scoring_file(_write(tmp_path, text), "GRCh38")
    assert result.accessions == ["effect_weight_a", "effect_weight_b"]
    by_score = {
        name: group["effect_weight"].to_list()
        for (name,), group in result.variants.group_by("accession", maintain_order=True)
    }
    assert by_score == {"effect_weight_a": [0.5, -1.0], "effect_weight_b": [1.5]}


def test_a_plain_and_suffixed_weight_together_are_refused(tmp_path: Path) -> None:
    columns = POS + " effect_weight_b"
    text = HEADER + _table("22 100 A G 0.5 1.5", columns=columns)
    with pytest.raises(ScoringFileError, match="both effect_weight and effect_weight_b"):
        read_scoring_file(_write(tmp_path, text), "GRCh38")


def test_a_weight_column_with_no_weight_is_refused(tmp_path: Path) -> None:
    text = HEADER + _table("22 100 A G 0.5 x", columns=WIDE).replace("\tx\n", "\t\n")
    with pytest.raises(ScoringFileError, match="no usable variants for effect_weight_b"):
        read_scoring_file(_write(tmp_path, text), "GRCh38")
