"""The synthetic cohort and scoring files: deterministic by seed, consistent across formats."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pgenlib
import polars as pl
import pytest

from vatti.pipelines.pgs import synthetic as syn

pytestmark = pytest.mark.unit

SPEC = syn.CohortSpec(n_samples=60, n_variants=700, block=256)


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()


def read_pgen(prefix: Path, spec: syn.CohortSpec) -> np.ndarray:
    reader = pgenlib.PgenReader(f"{prefix}.pgen".encode())
    try:
        out = np.empty((spec.n_variants, spec.n_samples), dtype=np.int8)
        buf = np.empty(spec.n_samples, dtype=np.int8)
        for i in range(spec.n_variants):
            reader.read(i, buf)
            out[i] = buf
        return out
    finally:
        reader.close()


def read_vcf_gt(path: Path) -> tuple[list[str], np.ndarray]:
    codes = {"./.": syn.MISSING, "0/0": 0, "0/1": 1, "1/1": 2}
    with gzip.open(path, "rt") as f:
        lines = [line.rstrip("\n").split("\t") for line in f if not line.startswith("##")]
    header, body = lines[0], lines[1:]
    assert header[:9] == ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
    return header[9:], np.array([[codes[c] for c in row[9:]] for row in body], dtype=np.int8)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    files = []
    for name, spec in [("a", SPEC), ("b", SPEC), ("c", syn.CohortSpec(60, 700, seed=1, block=256))]:
        prefix = tmp_path / name / "cohort"
        syn.write_pfile(prefix, spec)
        syn.write_vcf_gz(tmp_path / name / "cohort.vcf.gz", spec)
        files.append(
            digest(*(Path(f"{prefix}{s}") for s in (".pgen", ".pvar", ".psam")))
            + digest(tmp_path / name / "cohort.vcf.gz")
        )
    assert files[0] == files[1]
    assert files[0] != files[2]


def test_vcf_bytes_depend_on_neither_file_name_nor_time(tmp_path: Path) -> None:
    syn.write_vcf_gz(tmp_path / "a.vcf.gz", SPEC)
    syn.write_vcf_gz(tmp_path / "b.vcf.gz", SPEC)
    data = (tmp_path / "a.vcf.gz").read_bytes()
    assert data == (tmp_path / "b.vcf.gz").read_bytes()
    assert data[4:8] == bytes(4)  # gzip MTIME unset


def test_vcf_and_pgen_hold_the_same_genotypes(tmp_path: Path) -> None:
    syn.write_pfile(tmp_path / "cohort", SPEC)
    syn.write_vcf_gz(tmp_path / "cohort.vcf.gz", SPEC)
    samples, from_vcf = read_vcf_gt(tmp_path / "cohort.vcf.gz")
    assert samples == syn.sample_ids(SPEC)
    np.testing.assert_array_equal(read_pgen(tmp_path / "cohort", SPEC), from_vcf)
    pvar = pl.read_csv(tmp_path / "cohort.pvar", separator="\t")
    variants = syn.make_variants(SPEC)
    assert pvar["ID"].to_list() == variants.ids()
    assert pvar["POS"].to_list() == variants.pos.tolist()


def test_genotypes_have_the_missing_rate_and_allele_frequencies() -> None:
    spec = syn.CohortSpec(n_samples=400, n_variants=500, missing_rate=0.05)
    variants = syn.make_variants(spec)
    geno = np.concatenate(list(syn.genotype_blocks(spec, variants)))
    assert geno.shape == (500, 400)
    assert set(np.unique(geno).tolist()) <= {syn.MISSING, 0, 1, 2}
    assert abs((geno == syn.MISSING).mean() - 0.05) < 0.005
    called = np.where(geno == syn.MISSING, np.nan, geno)
    observed = np.nanmean(called, axis=1) / 2
    assert np.abs(observed - variants.freq).mean() < 0.03


def test_variants_are_biallelic_snps_with_the_asked_ambiguous_share() -> None:
    variants = syn.make_variants(syn.CohortSpec(10, 20_000, ambiguous=0.2))
    assert np.all(np.diff(variants.pos) >= 2)
    assert np.all(variants.ref != variants.alt)
    ambiguous = syn.complement(variants.ref) == variants.alt
    assert abs(ambiguous.mean() - 0.2) < 0.02


def read_scorefile(path: Path) -> tuple[dict[str, str], pl.DataFrame]:
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    header = dict(
        line.lstrip("#").split("=", 1)
        for line in text.splitlines()
        if line.startswith("#") and "=" in line
    )
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return header, pl.read_csv(
        body.encode(), separator="\t", schema_overrides={"chr_name": pl.Utf8}
    )


def test_scorefile_rows_hold_every_case_with_its_truth(tmp_path: Path) -> None:
    cohort = syn.CohortSpec(10, 5_000)
    variants = syn.make_variants(cohort)
    spec = syn.ScoreSpec(3_000, swapped=0.3, strand_flipped=0.1, absent=0.1, genome_build="GRCh38")
    rows = syn.write_scorefile(tmp_path / "s.txt.gz", variants, spec)
    header, body = read_scorefile(tmp_path / "s.txt.gz")
    assert header["pgs_id"] == "PGS999901"
    assert header["genome_build"] == "GRCh38"
    assert int(header["variants_number"]) == body.height == 3_000
    assert body.columns == [
        "chr_name",
        "chr_position",
        "effect_allele",
        "other_allele",
        "effect_weight",
    ]
    np.testing.assert_allclose(body["effect_weight"].to_numpy(), rows.weight)

    present = rows.target_idx >= 0
    assert not np.isin(body["chr_position"].to_numpy()[~present], variants.pos).any()
    idx = rows.target_idx[present]
    effect = body["effect_allele"].to_numpy()[present]
    flipped = rows.flipped[present]
    as_written = np.where(flipped, syn.complement(effect.astype(str)), effect)
    expected = np.where(rows.effect_is_ref[present], variants.ref[idx], variants.alt[idx])
    np.testing.assert_array_equal(as_written, expected)
    for share, mask in [(0.3, rows.effect_is_ref), (0.1, rows.flipped), (0.1, ~present)]:
        assert abs(mask.mean() - share) < 0.03
    assert 0.05 < rows.ambiguous.mean() < 0.3


def test_scores_of_a_set_agree_on_each_variants_effect_allele() -> None:
    variants = syn.make_variants(syn.CohortSpec(10, 3_000))
    specs = syn.score_set_specs(3, 1_500)
    assert [s.pgs_id for s in specs] == ["PGS999911", "PGS999912", "PGS999913"]
    scores = [syn.make_score(variants, s) for s in specs]
    allele: dict[int, str] = {}
    for rows in scores:
        present = rows.target_idx >= 0
        pairs = zip(rows.target_idx[present].tolist(), rows.effect[present].tolist(), strict=True)
        for k, effect in pairs:
            assert allele.setdefault(k, effect) == effect
    assert len({tuple(r.target_idx.tolist()) for r in scores}) == 3


def test_matched_frame_keeps_present_unambiguous_rows() -> None:
    variants = syn.make_variants(syn.CohortSpec(10, 2_000))
    rows = syn.make_score(variants, syn.ScoreSpec(1_000))
    matched = syn.matched_frame([rows])
    keep = (rows.target_idx >= 0) & ~rows.ambiguous
    assert matched.height == int(keep.sum())
    idx = matched["variant_idx"].to_numpy()
    allele = np.where(matched["allele_idx"].to_numpy() == 0, variants.ref[idx], variants.alt[idx])
    effect = np.where(rows.flipped[keep], syn.complement(rows.effect[keep]), rows.effect[keep])
    np.testing.assert_array_equal(allele, effect)
