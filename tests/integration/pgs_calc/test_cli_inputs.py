"""``vatti pgs score`` takes its inputs the ways pgsc_calc and plink2 users give them, on the
PGS Catalog Calculator's CINECA test data (shared data).

The CLI runs in-process through typer's runner (one run costs what the calculation costs), once
as a subprocess for the exit code of a refused samplesheet. Catalog ids are served by the local
stand-in of the Catalog (:mod:`vatti.testing.catalog`), found through ``VATTI_PGS_CATALOG_URL``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from click.testing import Result
from typer.testing import CliRunner

from vatti.cli import app
from vatti.pipelines.pgs.arguments import ArgumentError
from vatti.pipelines.pgs.catalog import CatalogUnavailable, harmonized_name
from vatti.pipelines.pgs.samplesheet import SamplesheetError
from vatti.testing.catalog import CatalogServer
from vatti.testing.services import shared_pgs_data

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

RUNNER = CliRunner()
EXAMPLES = "pgsc_calc/assets/examples"


@pytest.fixture(scope="module")
def data() -> Path:
    return shared_pgs_data()


@pytest.fixture(scope="module")
def scorefile(data: Path) -> Path:
    return data / EXAMPLES / "scorefiles/PGS001229_22.txt"


@pytest.fixture(scope="module")
def prefix(data: Path) -> Path:
    return data / EXAMPLES / "target_genomes/cineca_synthetic_subset"


@pytest.fixture(scope="module")
def expected(data: Path) -> pl.DataFrame:
    """pgsc_calc's scores of PGS001229_22 on the CINECA data."""
    return read_scores(data / "generated/cineca_PGS001229_22/aggregated_scores.txt.gz")


@pytest.fixture
def catalog() -> Iterator[CatalogServer]:
    server = CatalogServer()
    yield server
    server.stop()


def read_scores(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, separator="\t", schema_overrides={"FID": pl.Utf8, "IID": pl.Utf8})


def score(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    words = ["pgs", "score", *(str(a) for a in args)]
    return RUNNER.invoke(app, words, env={"COLUMNS": "200", "NO_COLOR": "1", **(env or {})})


def succeeded(result: Result) -> None:
    assert result.exit_code == 0, (result.output, result.exception)


def summary(out: Path) -> pl.DataFrame:
    return pl.read_csv(out / "match_summary.tsv", separator="\t")


def same_sums(out: Path, expected: pl.DataFrame, sampleset: str = "cineca") -> None:
    ours = read_scores(out / "aggregated_scores.txt.gz")
    assert ours["sampleset"].unique().to_list() == [sampleset]
    assert ours["IID"].to_list() == expected["IID"].to_list()
    assert ours["SUM"].to_list() == expected["SUM"].to_list()  # both in plink2's 6 digits


def test_several_scores_after_one_option_and_the_same_file_twice_once(
    data: Path, scorefile: Path, prefix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    duplicate = data / EXAMPLES / "scorefiles/PGS001229_22_duplicate.txt"
    monkeypatch.chdir(scorefile.parent)
    out = tmp_path / "out"
    # the same file by three spellings (absolute, relative, a link) is read once
    (tmp_path / "link.txt").symlink_to(scorefile)
    result = score(
        "--scores", scorefile, "PGS001229_22.txt", tmp_path / "link.txt", duplicate,
        "--target", f"{prefix}.pgen", "--target_build", "GRCh37", "--sampleset", "cineca",
        "--out", out,
    )  # fmt: skip
    succeeded(result)
    assert summary(out)["accession"].to_list() == ["PGS001229", "duplicatetest"]
    scores = read_scores(out / "aggregated_scores.txt.gz")
    assert scores.group_by("PGS").len().sort("PGS").rows() == [
        ("PGS001229", 2504),
        ("duplicatetest", 2504),
    ]


def test_folders_globs_and_comma_lists(
    data: Path, scorefile: Path, prefix: Path, tmp_path: Path, expected: pl.DataFrame
) -> None:
    folder = tmp_path / "scores"
    folder.mkdir()
    (folder / scorefile.name).symlink_to(scorefile)
    (folder / "notes.md").write_text("not a scoring file\n")
    (folder / f"{scorefile.name}.md5").write_text("0" * 32 + "\n")
    for given in ([str(folder)], [f"{folder}/PGS*.txt"], [f"{scorefile},{folder}"]):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        result = score(
            "-s", *given, "-t", prefix, "--build", "hg19", "--sampleset", "cineca", "-o", out
        )
        succeeded(result)
        assert summary(out)["accession"].to_list() == ["PGS001229"], given
        same_sums(out, expected)
    missing = score("-s", f"{folder}/nothing*.txt", "-t", prefix, "--build", "GRCh37", "-o", out)
    assert isinstance(missing.exception, ArgumentError)
    assert "no file matches" in str(missing.exception)


def test_pgsc_calc_spellings_of_the_options(scorefile: Path, prefix: Path, tmp_path: Path) -> None:
    plain = score("-s", scorefile, "-t", prefix, "--build", "GRCh37", "-o", tmp_path / "a")
    succeeded(plain)
    kept = score(
        "--scorefile", scorefile, "-t", f"{prefix}.bed", "--target_build", "GRCh37",
        "--keep_ambiguous", "--keep_multiallelic", "--min_overlap", "0.5", "--outdir",
        tmp_path / "b",
    )  # fmt: skip
    succeeded(kept)
    before, after = (
        summary(tmp_path / "a").row(0, named=True),
        summary(tmp_path / "b").row(0, named=True),
    )
    assert (before["n_matched"], before["n_excluded_ambiguous"]) == (782, 47)
    assert (after["n_matched"], after["n_excluded_ambiguous"]) == (829, 0)
    assert after["min_overlap"] == 0.5
    strict = score("-s", scorefile, "-t", prefix, "--target_build", "GRCh37", "--min_overlap",
                   "0.95", "--sampleset", "cineca", "-o", tmp_path / "c")  # fmt: skip
    assert strict.exit_code != 0
    assert "PGS001229 in cineca: 93.7%" in str(strict.exception)
    wrong = score("-s", scorefile, "-t", prefix, "--target_build", "NCBI36", "-o", tmp_path / "d")
    assert wrong.exit_code == 2
    assert "GRCh37 or GRCh38" in wrong.output


def write_csv(path: Path, *rows: str) -> Path:
    path.write_text("\n".join(["sampleset,path_prefix,chrom,format", *rows]) + "\n")
    return path


def test_csv_and_json_samplesheets(
    scorefile: Path, prefix: Path, tmp_path: Path, expected: pl.DataFrame
) -> None:
    genomes = tmp_path / "sheets/genomes"
    genomes.mkdir(parents=True)
    for suffix in (".pgen", ".pvar", ".psam"):
        (genomes / f"cineca{suffix}").symlink_to(f"{prefix}{suffix}")
    # a relative path_prefix is taken from the samplesheet's folder, as pgsc_calc does
    csv_sheet = write_csv(tmp_path / "sheets/samplesheet.csv", "cineca,genomes/cineca,22,pfile")
    result = score("-s", scorefile, "--input", csv_sheet, "--build", "GRCh37", "-o", tmp_path / "c")
    succeeded(result)
    same_sums(tmp_path / "c", expected)
    # pgsc_calc's JSON rows (hattivatti's), a VCF with its genotype field named
    json_sheet = tmp_path / "sheets/samplesheet.json"
    row = {"sampleset": "cineca", "chrom": None, "vcf_import_dosage": False, "format": "vcf"}
    row |= {name: f"{prefix}.vcf.gz" for name in ("geno", "pheno", "variants")}
    json_sheet.write_text(json.dumps([row]))
    result = score("-s", scorefile, "-i", json_sheet, "--build", "GRCh37", "-o", tmp_path / "j")
    succeeded(result)
    vcf = read_scores(tmp_path / "j/aggregated_scores.txt.gz")
    assert vcf["SUM"].to_list() == expected["SUM"].to_list()
    dosage = write_csv(tmp_path / "sheets/gt.csv", f"cineca,{prefix},,vcf").read_text()
    (tmp_path / "sheets/gt.csv").write_text(
        dosage.replace("format\n", "format,vcf_genotype_field\n").replace("vcf\n", "vcf,GT\n")
    )
    result = score("-s", scorefile, "-i", tmp_path / "sheets/gt.csv", "--build", "GRCh37",
                   "-o", tmp_path / "g")  # fmt: skip
    succeeded(result)
    assert read_scores(tmp_path / "g/aggregated_scores.txt.gz")["SUM"].equals(vcf["SUM"])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (("cineca,{p},22,pfile", "cineca,{p},chr22,pfile"), "both have chrom 22"),
        (("cineca,{p},,pfile", "cineca,{p},,bfile"), "both have no chrom"),
        (("my_cohort,{p},22,pfile",), "row 1, sampleset"),
        (("reference,{p},22,pfile",), "'reference' is reserved"),
        (("cineca,{p},22,bcf",), "unknown target format 'bcf'"),
    ],
)
def test_samplesheet_rules_are_the_jobs(
    scorefile: Path, prefix: Path, tmp_path: Path, rows: tuple[str, ...], message: str
) -> None:
    sheet = write_csv(tmp_path / "s.csv", *(r.format(p=prefix) for r in rows))
    result = score("-s", scorefile, "-i", sheet, "--build", "GRCh37", "-o", tmp_path / "o")
    assert isinstance(result.exception, SamplesheetError), result.output
    assert message in str(result.exception)
    assert not (tmp_path / "o").exists()


def test_a_refused_samplesheet_exits_2(scorefile: Path, prefix: Path, tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "s.csv", f"cineca,{prefix},22,pfile", f"cineca,{prefix},22,pfile")
    args = [sys.executable, "-m", "vatti", "pgs", "score", "-s", str(scorefile), "-i", str(sheet)]
    args += ["--build", "GRCh37", "-o", str(tmp_path / "o")]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert "rows 0 and 1 of sampleset 'cineca' both have chrom 22" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


def test_two_targets_of_every_chromosome_are_refused(
    scorefile: Path, prefix: Path, tmp_path: Path
) -> None:
    result = score("-s", scorefile, "-t", prefix, f"{prefix}.bed", "--build", "GRCh37",
                   "-o", tmp_path / "o")  # fmt: skip
    assert result.exit_code == 2
    assert "both have no chrom" in " ".join(result.output.split())
    bad_name = score("-s", scorefile, "-t", prefix, "--sampleset", "reference", "--build",
                     "GRCh37", "-o", tmp_path / "o")  # fmt: skip
    assert bad_name.exit_code == 2
    assert "reserved" in bad_name.output


def test_catalog_ids_in_any_case_from_the_configured_catalog(
    catalog: CatalogServer, scorefile: Path, prefix: Path, tmp_path: Path, expected: pl.DataFrame
) -> None:
    """The ids are looked up in the Catalog of VATTI_PGS_CATALOG_URL (the stand-in; the
    scoring file itself is in the cache, so nothing is downloaded from the Catalog's FTP site)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / harmonized_name("PGS001229", "GRCh37")).write_bytes(scorefile.read_bytes())
    catalog.state.json(
        "/rest/trait/EFO_0004339?include_children=0", {"associated_pgs_ids": ["PGS001229"]}
    )
    catalog.state.json(
        "/rest/publication/PGP000244", {"associated_pgs_ids": {"development": ["PGS001229"]}}
    )
    env = {
        "VATTI_PGS_CATALOG_URL": f"{catalog.state.url}/rest/",
        "VATTI_PGS_CATALOG_DIR": str(cache),
    }
    result = score(
        "--pgs_id", "pgs001229", "--trait_efo", "efo_0004339", "--efo_direct", "--pgp_id",
        "pgp000244", "-t", prefix, "--target_build", "GRCh37", "--sampleset", "cineca",
        "-o", tmp_path / "o", env=env,
    )  # fmt: skip
    succeeded(result)
    same_sums(tmp_path / "o", expected)  # the three ids name one score, scored once
    assert sorted(catalog.state.requests) == [
        "/rest/publication/PGP000244",
        "/rest/trait/EFO_0004339?include_children=0",
    ]
    # offline (VATTI_PGS_OFFLINE), a cached score needs no Catalog; a trait is refused
    catalog.state.requests.clear()
    offline = env | {"VATTI_PGS_OFFLINE": "true"}
    result = score("-s", "PGS001229", "-t", prefix, "--build", "GRCh37", "--sampleset", "cineca",
                   "-o", tmp_path / "p", env=offline)  # fmt: skip
    succeeded(result)
    result = score("-s", "EFO_0004339", "-t", prefix, "--build", "GRCh37", "-o", tmp_path / "q",
                   env=offline)  # fmt: skip
    assert isinstance(result.exception, CatalogUnavailable)
    assert "offline" in str(result.exception)
    assert catalog.state.requests == []


def test_ids_of_the_wrong_kind_are_refused(prefix: Path, tmp_path: Path) -> None:
    result = score("--pgs_id", "PGS001229,PGP000001", "-t", prefix, "--build", "GRCh37",
                   "-o", tmp_path / "o")  # fmt: skip
    assert isinstance(result.exception, ArgumentError)
    assert "'PGP000001' is not a pgs id" in str(result.exception)
    nothing = score("-s", "PGS12", "-t", prefix, "--build", "GRCh37", "-o", tmp_path / "o")
    assert isinstance(nothing.exception, ArgumentError)
    assert "no such scoring file, nor a Catalog id" in str(nothing.exception)
