"""pgsc_calc samplesheets read into the job's target genome rows (files need not exist yet:
they are checked when the calculation opens them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vatti.pipelines.pgs.samplesheet import SamplesheetError, read_samplesheet
from vatti.pipelines.pgs.vocabulary import TargetFormat

pytestmark = pytest.mark.unit


def sheet(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_rows_resolve_their_prefix_beside_the_samplesheet(tmp_path: Path) -> None:
    (tmp_path / "g").mkdir()
    (tmp_path / "g/c.pvar.zst").write_bytes(b"")  # compressed variants are preferred
    text = (
        "sampleset,path_prefix,chrom,format,vcf_genotype_field\n"
        "cohort,g/c,chr22,pfile,\n"
        "cohort,/data/imputed,21,VCF,DS\n"
    )
    first, second = read_samplesheet(sheet(tmp_path / "s.csv", text))
    assert (first.geno, first.variants, first.pheno) == (
        f"{tmp_path}/g/c.pgen",
        f"{tmp_path}/g/c.pvar.zst",
        f"{tmp_path}/g/c.psam",
    )
    assert (first.chrom, first.vcf_import_dosage, first.format) == ("chr22", False, "pfile")
    assert second.format is TargetFormat.VCF
    assert second.geno == second.pheno == second.variants == "/data/imputed.vcf.gz"
    assert second.vcf_import_dosage


def test_json_rows_are_the_jobs(tmp_path: Path) -> None:
    row = {"sampleset": "a", "chrom": 22, "geno": "x.bed", "pheno": "x.fam", "variants": "x.bim"}
    path = sheet(tmp_path / "s.json", json.dumps([row | {"format": "bfile"}]))
    [read] = read_samplesheet(path)
    assert (read.chrom, read.geno) == ("22", f"{tmp_path}/x.bed")
    bad = sheet(tmp_path / "b.json", json.dumps([row | {"format": "bfile", "outdir": "o"}]))
    with pytest.raises(SamplesheetError, match="row 1, outdir: Extra inputs"):
        read_samplesheet(bad)
    with pytest.raises(SamplesheetError, match="a list of rows"):
        read_samplesheet(sheet(tmp_path / "o.json", json.dumps(row)))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("s.csv", "sampleset,path,chrom,format\na,x,,pfile\n", "missing: path_prefix"),
        ("s.csv", "sampleset,path_prefix,chrom,format\n", "no rows"),
        (
            "s.csv",
            "sampleset,path_prefix,chrom,format,vcf_genotype_field\na,x,,vcf,GP\n",
            "GT or DS",
        ),
        ("s.tsv", "sampleset\tpath_prefix\n", ".csv or a .json"),
        ("s.json", "[{", "not valid JSON"),
    ],
)
def test_what_is_refused(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(SamplesheetError, match=message):
        read_samplesheet(sheet(tmp_path / name, text))
