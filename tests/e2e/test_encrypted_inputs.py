"""A real ``pgs`` job (``vatti run``: engine, local executor, job process) on crypt4gh files from
the transfer collection, with its key from the key handler (the loopback stand-ins), scores
exactly as the same job on the clear-text files; the stand-ins' credentials reach the job only
on its secrets pipe, and appear nowhere under the data dir. The same job submitted over HTTP in
hattivatti's message shape scores as its clear-text run."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import JOBS, Launcher, Server, clean_env, vatti

from vatti.domain.layout import results_prefix
from vatti.pipelines.pgs import synthetic as syn
from vatti.testing.c4gh import new_keypair
from vatti.testing.standins import KEY_WRAP_PASSWORD, SECRETS, StandIns

pytestmark = pytest.mark.e2e

SECRET_ID = "81d5c400-21b4-4e88-8208-8d64c9920283"
DIR = "user@ebi.ac.uk/INTP00000042"
COHORT = syn.CohortSpec(n_samples=60, n_variants=600, seed=905, missing_rate=0.03)
SCORE = syn.ScoreSpec(120, pgs_id="PGS999903", seed=5, swapped=0.3)
SUFFIXES = ("pgen", "pvar", "psam")


def request(path: Path, prefix: str, **params: Any) -> Path:
    genome = {
        "sampleset": "cohort",
        "chrom": "22",
        "geno": f"{prefix}.pgen",
        "pheno": f"{prefix}.psam",
        "variants": f"{prefix}.pvar",
        "format": "pfile",
    }
    body = {
        "pipeline": "pgs",
        "params": {
            "id": "INTP00000042",
            "target_genomes": [genome],
            "scorefiles": ["scores/PGS999903.txt.gz"],
            "target_build": "GRCh37",
            **params,
        },
    }
    path.write_text(json.dumps(body))
    return path


def scores(data_dir: Path) -> str:
    (job,) = (data_dir / "objects" / "jobs").iterdir()
    outputs = data_dir / "objects" / results_prefix(job.name)
    return gzip.decompress((outputs / "aggregated_scores.txt.gz").read_bytes()).decode()


def cohort_on_collection(work: Path, standins: StandIns) -> list[dict[str, Any]]:
    """The cohort in clear under ``work/clear``, its score file under ``work/scores``, and the
    cohort encrypted on the collection under DIR, its key on the key handler; the files of its
    globus_details."""
    variants = syn.write_pfile(work / "clear" / "cohort", COHORT)
    syn.write_scorefile(work / "scores" / "PGS999903.txt.gz", variants, SCORE)
    pair = new_keypair()
    standins.state.keys[(SECRET_ID, "1")] = pair.locked(KEY_WRAP_PASSWORD)
    clear = {f"cohort.{s}": (work / "clear" / f"cohort.{s}").read_bytes() for s in SUFFIXES}
    return standins.put_encrypted(DIR, clear, pair.public)


def test_encrypted_collection_inputs_score_as_the_clear_text(
    tmp_path: Path, standins: StandIns
) -> None:
    work = tmp_path / "work"
    files = cohort_on_collection(work, standins)
    clear = request(work / "clear.json", "clear/cohort")
    sealed_request = request(
        work / "encrypted.json",
        "cohort",
        globus_details={"dir_path_on_guest_collection": DIR, "files": files},
        secret_key_details={"secret_id": SECRET_ID, "secret_id_version": "1"},
    )

    runs = {}
    for name, path in (("clear", clear), ("encrypted", sealed_request)):
        env = clean_env(VATTI_DATA_DIR=f"data-{name}", VATTI_PGS_OFFLINE="1", **standins.env())
        runs[name] = vatti("run", path.name, cwd=work, env=env, timeout=120)
        assert runs[name].returncode == 0, runs[name].stderr

    assert scores(work / "data-encrypted") == scores(work / "data-clear")
    assert len(standins.state.requests("collection")) == 3
    assert len(standins.state.requests("keys")) == 1
    leaked = [*SECRETS, *standins.state.issued]
    for path in (work / "data-encrypted").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in leaked if s.encode() in data], path
    for run in runs.values():
        assert not [s for s in leaked if s in run.stdout + run.stderr]


def served_scores(server: Server, job_id: str) -> str:
    done = server.wait_state(job_id, timeout=120)
    assert done["state"] == "succeeded", (done, server.log())
    outputs = server.http.get(f"{JOBS}/{job_id}/outputs").json()["outputs"]
    (url,) = [o["url"] for o in outputs if o["name"] == "aggregated_scores.txt.gz"]
    return gzip.decompress(server.http.get(url).content).decode()


def test_hattivattis_message_over_http_scores_as_the_clear_text(
    tmp_path: Path, standins: StandIns, launcher: Launcher
) -> None:
    work = tmp_path / "work"
    files = cohort_on_collection(work, standins)
    server = launcher.start(
        tmp_path / "data",
        {"VATTI_INPUT_ROOT": str(work), "VATTI_PGS_OFFLINE": "1", **standins.env()},
    )

    def genome(prefix: str) -> dict[str, Any]:
        names = {k: f"{prefix}.{k}" for k in ("pgen", "psam", "pvar")}
        return {
            "sampleset": "cohort",
            "chrom": "22",
            "vcf_import_dosage": False,
            "geno": names["pgen"],
            "pheno": names["psam"],
            "variants": names["pvar"],
            "format": "pfile",
        }

    nested = {"format": "json", "target_build": "GRCh37"}
    scorefiles = ["scores/PGS999903.txt.gz"]
    message = {
        "pipeline_param": {
            "id": "INTP00000042",
            "target_genomes": [genome("cohort")],
            "scorefiles": scorefiles,
            "nxf_params_file": nested,
        },
        "globus_details": {"dir_path_on_guest_collection": DIR, "files": files},
        "secret_key_details": {"secret_id": SECRET_ID, "secret_id_version": "1"},
    }
    submitted = server.http.post(JOBS, json=message)
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["client_id"] == "INTP00000042"
    clear = server.submit(
        {
            "pipeline": "pgs",
            "params": {
                "target_genomes": [genome("clear/cohort")],
                "scorefiles": scorefiles,
                "nxf_params_file": nested,
            },
        }
    )

    encrypted_scores = served_scores(server, submitted.json()["id"])
    assert encrypted_scores == served_scores(server, clear["id"])
    assert "cohort" in encrypted_scores
    assert len(standins.state.requests("collection")) == 3
    assert server.stop() == 0
    leaked = [*SECRETS, *standins.state.issued]
    assert not [s for s in leaked if s in server.log()]
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in leaked if s.encode() in data], path
