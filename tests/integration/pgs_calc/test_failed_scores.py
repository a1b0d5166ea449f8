"""Per-score pass/fail, as pgsc_calc, on its CINECA test data: PGS001229_22 (782 of 835 variants
on chromosome 22 match) with ``customgrch37`` (2 variants on chromosome 1: none match).

The job and ``vatti pgs score`` compute PGS001229 exactly as pgsc_calc did (its
``aggregated_scores.txt.gz`` in the shared data's ``generated/``, byte for byte), mark ``custom``
failed with its match rate in the match summary, and name it in the outcome's warnings (job) or
on stderr (CLI). With no passing score the CLI exits 65 with the job's failure message.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from tests.integration.pgs_calc.test_cli_cineca import target, vatti_pgs_score

from vatti.domain.access import OPERATOR_CALLER
from vatti.domain.layout import outcome_key, result_key, spec_key
from vatti.domain.match_rates import MatchRateSummary
from vatti.domain.outcome import Outcome
from vatti.domain.requests import JobRequest
from vatti.pipelines.base import JobSettings, default_registry
from vatti.runtime.execute import execute, job_log
from vatti.service.requests import new_job
from vatti.staging.objects import ObjectStore
from vatti.testing.services import shared_pgs_data

pytestmark = [pytest.mark.integration]

EXAMPLES = "pgsc_calc/assets/examples"
SCORES = [f"{EXAMPLES}/scorefiles/PGS001229_22.txt", f"{EXAMPLES}/scorefiles/customgrch37.txt"]
EXPECTED = "generated/cineca_PGS001229_22/aggregated_scores.txt.gz"
CUSTOM_LINE = "custom in cineca: none of 2 variants matched"


@pytest.fixture(scope="module")
def data() -> Path:
    return shared_pgs_data()


def check_summary(path: Path) -> None:
    summary = pl.read_csv(path, separator="\t").sort("accession")
    assert summary.select("accession", "n_variants", "n_matched", "passed").rows() == [
        ("PGS001229", 835, 782, True),
        ("custom", 2, 0, False),
    ]
    assert summary["match_rate"].to_list() == pytest.approx([782 / 835, 0.0])


def test_the_job_computes_pgs001229_and_names_the_failed_custom_score(
    data: Path, tmp_path: Path
) -> None:
    prefix = f"{EXAMPLES}/target_genomes/cineca_synthetic_subset"
    body = {
        "pipeline": "pgs",
        "params": {
            "target_genomes": [
                {
                    "sampleset": "cineca",
                    "chrom": "22",
                    "geno": f"{prefix}.pgen",
                    "pheno": f"{prefix}.psam",
                    "variants": f"{prefix}.pvar",
                    "format": "pfile",
                }
            ],
            "scorefiles": SCORES,
            "target_build": "GRCh37",
        },
    }
    spec = new_job(JobRequest.model_validate(body), default_registry(), OPERATOR_CALLER).spec
    objects = ObjectStore.from_url((tmp_path / "objects").as_uri())
    objects.put_bytes(spec_key("j1"), json.dumps(spec).encode())
    (tmp_path / "scratch").mkdir()
    settings = JobSettings(input_root=data)

    outcome = execute(
        "j1", objects, default_registry(), tmp_path / "scratch", settings, job_log("j1")
    )

    assert outcome.ok, outcome.failure
    assert Outcome.from_json(objects.get_bytes(outcome_key("j1"))) == outcome
    [warning] = outcome.warnings
    assert warning.code == "pgs_min_overlap"
    assert warning.message == f"{CUSTOM_LINE} (not computed)"
    assert warning.data == {
        "sampleset": "cineca",
        "accession": "custom",
        "n_variants": 2,
        "n_matched": 0,
        "match_rate": 0.0,
        "min_overlap": 0.75,
    }
    scores = gzip.decompress(objects.get_bytes(result_key("j1", "aggregated_scores.txt.gz")))
    assert scores == gzip.decompress((data / EXPECTED).read_bytes())
    summary = tmp_path / "match_summary.tsv"
    summary.write_bytes(objects.get_bytes(result_key("j1", "match_summary.tsv")))
    check_summary(summary)
    # the outcome's summary holds every score's match rate in buckets (what /metrics adds up)
    rows = json.loads(objects.get_bytes(result_key("j1", "match_summary.json")))
    reported = MatchRateSummary.from_summary(outcome.summary)
    expected = MatchRateSummary.of(
        [r["match_rate"] for r in rows], passed=sum(bool(r["passed"]) for r in rows)
    )
    assert reported == expected
    assert (reported.scores, reported.passed) == (2, 1)


def test_the_cli_computes_pgs001229_and_names_the_failed_custom_score(
    data: Path, tmp_path: Path
) -> None:
    done = vatti_pgs_score([data / s for s in SCORES], target(data, "pfile"), tmp_path)

    assert done.returncode == 0, done.stderr
    assert "1 score(s) x 2504 sample(s)" in done.stdout
    stderr = " ".join(done.stderr.split())
    assert f"warning: {CUSTOM_LINE}: not computed (see match_summary.tsv)" in stderr
    assert "PGS001229" not in stderr
    got = gzip.decompress((tmp_path / "aggregated_scores.txt.gz").read_bytes())
    assert got == gzip.decompress((data / EXPECTED).read_bytes())
    check_summary(tmp_path / "match_summary.tsv")


def test_the_cli_exits_65_when_no_score_passes(data: Path, tmp_path: Path) -> None:
    done = vatti_pgs_score(
        [data / SCORES[1]], target(data, "pfile"), tmp_path, "--min-overlap", "0"
    )

    assert done.returncode == 65, done.stderr
    message = " ".join(done.stderr.split())
    assert f"vatti: no score passed min_overlap in sampleset cineca: {CUSTOM_LINE}" in message
    assert "Traceback" not in done.stderr
    assert (tmp_path / "match_summary.tsv").is_file()
    assert not (tmp_path / "aggregated_scores.txt.gz").exists()
