"""The scoring driver on tiny PLINK 2 files written here: several files per sampleset, several
samplesets, checks of its inputs. Expected sums are explicit loops over the written matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pgenlib
import polars as pl
import pytest

from vatti.pipelines.pgs.streaming import ScoringOptions, score_samplesets
from vatti.pipelines.pgs.targets import GenotypeFile, Sampleset, read_samples, read_variants
from vatti.pipelines.pgs.targets.errors import SamplesMismatch, ScoringInputError

pytestmark = pytest.mark.unit

GENO = np.array(  # 4 variants x 3 samples, ALT counts, -9 missing
    [[0, 1, 2], [2, 2, -9], [1, 0, 1], [0, 0, 2]], dtype=np.int8
)


def write_pfile(prefix: Path, geno: np.ndarray, iids: list[str], chrom: str) -> GenotypeFile:
    writer = pgenlib.PgenWriter(f"{prefix}.pgen".encode(), geno.shape[1], geno.shape[0], False)
    writer.append_biallelic_batch(np.ascontiguousarray(geno))
    writer.close()
    Path(f"{prefix}.psam").write_text("#IID\n" + "".join(f"{i}\n" for i in iids))
    rows = "".join(f"chr{chrom}\t{100 + v}\tv{v}\tA\tG\n" for v in range(geno.shape[0]))
    Path(f"{prefix}.pvar").write_text("#CHROM\tPOS\tID\tREF\tALT\n" + rows)
    return GenotypeFile.from_prefix("pfile", prefix, chrom=chrom)


def matched(rows: list[tuple[str, int, int, int, float, str]]) -> pl.DataFrame:
    names = ["accession", "file_idx", "variant_idx", "allele_idx", "effect_weight", "effect_type"]
    return pl.DataFrame(rows, schema=names, orient="row")


@pytest.fixture
def two_files(tmp_path: Path) -> Sampleset:
    iids = ["a", "b", "c"]
    return Sampleset(
        "cohort",
        [
            write_pfile(tmp_path / "chr1", GENO, iids, "1"),
            write_pfile(tmp_path / "chr2", GENO[::-1].copy(), iids, "2"),
        ],
    )


def test_variants_and_samples_of_a_split_sampleset(two_files: Sampleset) -> None:
    variants = read_variants(two_files)
    assert variants.height == 8
    assert variants["file_idx"].to_list() == [0] * 4 + [1] * 4
    assert variants["variant_idx"].to_list() == [0, 1, 2, 3] * 2
    assert variants["chrom"].unique().sort().to_list() == ["1", "2"]
    assert read_samples(two_files).rows() == [("a", "a", True), ("b", "b", True), ("c", "c", True)]


def test_scores_across_files_with_ref_alleles_and_duplicates(two_files: Sampleset) -> None:
    rows = [
        ("P1", 0, 0, 1, 0.5, "additive"),  # ALT of file 0 variant 0: [0, 1, 2]
        ("P1", 1, 3, 0, 2.0, "additive"),  # REF of file 1 variant 3 (= GENO[0]): [2, 1, 0]
        ("P1", 0, 1, 1, 1.0, "additive"),  # [2, 2, missing]
        ("P2", 0, 0, 1, 1.0, "dominant"),  # min(d, 1): [0, 1, 1]
        ("P2", 0, 0, 1, 1.0, "dominant"),  # the same row twice counts twice
    ]
    out = score_samplesets([two_files], matched(rows), ScoringOptions(block_size=1))
    assert out["PGS"].to_list() == ["P1"] * 3 + ["P2"] * 3
    assert out["IID"].to_list() == ["a", "b", "c"] * 2
    p1 = [0.5 * g0 + 2.0 * (2 - g0) for g0 in (0, 1, 2)]
    p1 = [p + d for p, d in zip(p1, (2.0, 2.0, 0.0), strict=True)]  # 3 samples: no imputation
    assert out["SUM"].to_list() == pytest.approx([*p1, 0.0, 2.0, 2.0])
    assert out["ALLELE_CT"].to_list() == [6, 6, 4, 4, 4, 4]
    assert out["DENOM"].to_list() == [6, 6, 4, 4, 4, 4]


def test_several_samplesets_need_a_sampleset_column(tmp_path: Path, two_files: Sampleset) -> None:
    other = Sampleset("other", [write_pfile(tmp_path / "o", GENO, ["x", "y", "z"], "1")])
    rows = matched([("P1", 0, 2, 1, 1.0, "additive")])
    with pytest.raises(ScoringInputError, match="sampleset"):
        score_samplesets([two_files, other], rows)
    tagged = pl.concat([rows.with_columns(sampleset=pl.lit(s)) for s in ("cohort", "other")])
    out = score_samplesets([two_files, other], tagged)
    assert out["sampleset"].to_list() == ["cohort"] * 3 + ["other"] * 3
    assert out["SUM"].to_list() == [1.0, 0.0, 1.0] * 2


def test_files_with_different_samples_are_refused(tmp_path: Path) -> None:
    bad = Sampleset(
        "bad",
        [
            write_pfile(tmp_path / "p", GENO, ["a", "b", "c"], "1"),
            write_pfile(tmp_path / "q", GENO, ["a", "c", "b"], "2"),
        ],
    )
    with pytest.raises(SamplesMismatch, match="same order"):
        read_samples(bad)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("P", 2, 0, 1, 1.0, "additive")], "file_idx 2"),
        ([("P", 0, 9, 1, 1.0, "additive")], "out of range"),
        ([("P", 0, 0, 1, 1.0, "multiplicative")], "effect_type"),
    ],
)
def test_bad_matched_rows_are_refused(
    two_files: Sampleset, rows: list[tuple[str, int, int, int, float, str]], message: str
) -> None:
    with pytest.raises(ScoringInputError, match=message):
        score_samplesets([two_files], matched(rows))


def test_missing_columns_are_refused(two_files: Sampleset) -> None:
    with pytest.raises(ScoringInputError, match="effect_type"):
        score_samplesets([two_files], matched([]).drop("effect_type"))


def test_a_sampleset_without_samples_is_refused_clearly(tmp_path: Path) -> None:
    from vatti.pipelines.pgs.targets.errors import TargetFormatError

    vcf = tmp_path / "sites.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "1\t100\tr1\tA\tG\t.\t.\t.\n"
    )
    sites_only = Sampleset("sites", [GenotypeFile.from_prefix("vcf", vcf)])
    with pytest.raises(TargetFormatError, match="has no samples to score"):
        read_samples(sites_only)
