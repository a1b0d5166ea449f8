"""The ``vatti`` command as a user runs it: ``run`` locally and against a server, the client
commands, and the ``make demo`` path."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import (
    EXAMPLES,
    Server,
    clean_env,
    example,
    group_alive,
    pid_alive,
    unique,
    vatti,
    wait_for,
)

from vatti.domain.layout import results_prefix
from vatti.testing.services import shared_pgs_data

pytestmark = pytest.mark.e2e


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A user's directory holding a copy of the hello example."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(EXAMPLES / "command-hello.json", work)
    return work


def local_env(**extra: str) -> dict[str, str]:
    return clean_env(VATTI_DATA_DIR="vatti-data", VATTI_POLL_INTERVAL="0.1", **extra)


def write_request(where: Path, body: dict[str, Any]) -> Path:
    """A request file; unique, so that a server does not deduplicate it."""
    path = where / f"request-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(unique(body)))
    return path


def test_run_prints_where_the_results_are(workdir: Path) -> None:
    result = vatti("run", "command-hello.json", cwd=workdir, env=local_env())

    assert result.returncode == 0, result.stderr
    objects = workdir / "vatti-data" / "objects"
    (job_dir,) = (objects / "jobs").iterdir()
    outputs = objects / results_prefix(job_dir.name)
    assert "succeeded" in result.stdout
    assert outputs.as_uri() in result.stdout
    assert "hello.txt" in result.stdout
    hello = (outputs / "hello.txt").read_text()
    assert hello == f"hello, world (job {job_dir.name})\n"
    assert not (job_dir / "work").exists()


def test_run_of_a_failing_job_exits_1_with_the_failure(workdir: Path) -> None:
    request = write_request(
        workdir, {"pipeline": "command", "params": {"argv": ["sh", "-c", "exit 5"]}}
    )

    result = vatti("run", request.name, cwd=workdir, env=local_env(VATTI_ALLOW_RAW_ARGV="1"))

    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert "failed" in message
    assert "status 5" in message


def test_run_of_an_invalid_request_exits_2_naming_the_field(workdir: Path) -> None:
    request = write_request(
        workdir, {"pipeline": "command", "params": {"command": "hello", "args": {"name": "../x"}}}
    )

    result = vatti("run", request.name, cwd=workdir, env=local_env())

    assert result.returncode == 2
    assert "params.args.name: Value error, must match the pattern" in result.stderr
    assert not (workdir / "vatti-data" / "objects" / "jobs").exists()


def test_run_of_a_raw_argv_exits_2_saying_how_to_allow_it(workdir: Path) -> None:
    marker = workdir / "ran"
    request = write_request(
        workdir, {"pipeline": "command", "params": {"argv": ["touch", str(marker)]}}
    )

    result = vatti("run", request.name, cwd=workdir, env=local_env())

    assert result.returncode == 2
    assert "params.argv" in result.stderr
    assert "VATTI_ALLOW_RAW_ARGV=true" in result.stderr
    assert not marker.exists()


def test_run_of_an_operators_command(workdir: Path) -> None:
    (workdir / "commands.toml").write_text(
        '[commands.shout]\nargv = ["sh", "-c", \'echo "$1" | tr a-z A-Z > loud.txt\', "shout", '
        '"{text}"]\noutputs = ["loud.txt"]\n[commands.shout.params.text]\ntype = "string"\n'
    )
    body = {"pipeline": "command", "params": {"command": "shout", "args": {"text": "hi $(id)"}}}
    request = write_request(workdir, body)
    env = local_env(VATTI_COMMANDS_FILE="commands.toml")

    result = vatti("run", request.name, cwd=workdir, env=env)

    assert result.returncode == 0, result.stderr
    objects = workdir / "vatti-data" / "objects"
    (job_dir,) = (objects / "jobs").iterdir()
    assert (objects / results_prefix(job_dir.name) / "loud.txt").read_text() == "HI $(ID)\n"
    hello = vatti("run", "command-hello.json", cwd=workdir, env=env)
    assert hello.returncode == 2  # the operator's file declares only its own commands
    assert "unknown command 'hello'; declared commands: shout" in hello.stderr


def test_run_of_a_missing_file_exits_2(workdir: Path) -> None:
    result = vatti("run", "nowhere.json", cwd=workdir, env=local_env())

    assert result.returncode == 2
    assert "nowhere.json" in result.stderr


def server_env(served: Server, token: str | None = None) -> dict[str, str]:
    return clean_env(VATTI_URL=served.url, VATTI_TOKEN=token or served.token)


def test_client_commands_against_a_server(served: Server, workdir: Path) -> None:
    env = server_env(served)

    hello = write_request(workdir, example("command-hello.json"))
    submitted = vatti("submit", hello.name, cwd=workdir, env=env)
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["id"]
    served.wait_state(job_id)

    status = vatti("status", job_id, "--url", served.url, cwd=workdir, env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["state"] == "succeeded"
    logs = vatti("logs", job_id, cwd=workdir, env=env)
    assert logs.returncode == 0
    assert job_id in logs.stdout
    tail = vatti("logs", job_id, "--tail", "1", cwd=workdir, env=env)
    assert tail.stdout.splitlines() == logs.stdout.splitlines()[-1:]
    finished = vatti("cancel", job_id, cwd=workdir, env=env)
    assert finished.returncode == 1
    assert "409" in finished.stderr


def test_deduplication_and_retry_from_the_command_line(served: Server, workdir: Path) -> None:
    env = server_env(served)
    request = write_request(workdir, {"pipeline": "command", "params": {"argv": ["sleep", "60"]}})
    first = vatti("submit", request.name, cwd=workdir, env=env)
    assert first.returncode == 0, first.stderr
    job_id = json.loads(first.stdout)["id"]
    assert "identical" not in first.stderr

    again = vatti("submit", request.name, cwd=workdir, env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["id"] == job_id
    assert f"an identical request was submitted already: job {job_id}" in again.stderr

    early = vatti("retry", job_id, cwd=workdir, env=env)
    assert early.returncode == 1
    assert "only a failed or cancelled job can be retried" in early.stderr

    assert vatti("cancel", job_id, cwd=workdir, env=env).returncode == 0
    assert served.wait_state(job_id)["state"] == "cancelled"
    retried = vatti("retry", job_id, cwd=workdir, env=env)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.strip() in {f"job {job_id}: queued", f"job {job_id}: provisioning"}
    assert served.wait_state(job_id, frozenset({"running"}))["state"] == "running"
    assert vatti("cancel", job_id, cwd=workdir, env=env).returncode == 0
    events = served.http.get(f"/api/v1/jobs/{job_id}/events").json()["events"]
    assert [e["attempt"] for e in events if e["event"] == "start"] == [1, 2]


def test_cancel_from_the_command_line(served: Server, workdir: Path, shared: Path) -> None:
    env = server_env(served)
    pid_file = shared / "pid"
    body = {
        "pipeline": "command",
        "params": {"argv": ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 600"]},
    }
    request = write_request(workdir, body)
    job_id = json.loads(vatti("submit", request.name, cwd=workdir, env=env).stdout)["id"]
    served.wait_state(job_id, frozenset({"running"}))
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", 15, "the pid")

    pgid = os.getpgid(int(pid_file.read_text()))

    result = vatti("cancel", job_id, cwd=workdir, env=env)

    assert result.returncode == 0, result.stderr
    assert job_id in result.stdout
    assert served.wait_state(job_id)["state"] == "cancelled"
    pid = int(pid_file.read_text())
    wait_for(lambda: not pid_alive(pid), 10, f"process {pid} to go")
    assert not group_alive(pgid)


def test_run_against_a_server(served: Server, workdir: Path) -> None:
    hello = write_request(workdir, example("command-hello.json"))
    ok = vatti("run", hello.name, "--url", served.url, cwd=workdir, env=server_env(served))
    assert ok.returncode == 0, ok.stderr
    assert f"{served.url}/api/v1/jobs/" in ok.stdout
    assert "succeeded" in ok.stdout

    request = write_request(
        workdir, {"pipeline": "command", "params": {"argv": ["sh", "-c", "exit 6"]}}
    )
    failed = vatti("run", request.name, cwd=workdir, env=server_env(served))
    assert failed.returncode == 1
    assert "status 6" in failed.stderr


def test_client_errors(served: Server, workdir: Path) -> None:
    wrong = vatti("status", "x", cwd=workdir, env=server_env(served, "wrong-token"))
    assert wrong.returncode == 2
    assert "401" in wrong.stderr
    assert "wrong-token" not in wrong.stderr + wrong.stdout

    no_server = vatti("status", "x", cwd=workdir, env=clean_env())
    assert no_server.returncode == 2
    assert "--url" in no_server.stderr

    closed = clean_env(VATTI_URL="http://127.0.0.1:9", VATTI_TOKEN="t")
    unreachable = vatti("status", "x", cwd=workdir, env=closed)
    assert unreachable.returncode == 69


def test_a_server_error_is_unavailable_not_a_bad_request(workdir: Path) -> None:
    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"error": {"code": "service_unavailable", "message": "database down"}}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = clean_env(VATTI_URL=f"http://127.0.0.1:{server.server_address[1]}", VATTI_TOKEN="t")
        got = vatti("status", "x", cwd=workdir, env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert got.returncode == 69
    assert "503 database down" in got.stderr


def test_demo_data_then_run_the_pgs_demo(tmp_path: Path) -> None:
    """``make demo``: demo data under vatti-data/demo-input, then the example, from one dir."""
    shutil.copy(EXAMPLES / "pgs-demo.json", tmp_path)
    env = clean_env(VATTI_DATA_DIR="vatti-data", VATTI_PGS_OFFLINE="1")

    made = vatti("pgs", "demo-data", "--out", "vatti-data/demo-input", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    result = vatti("run", "pgs-demo.json", cwd=tmp_path, env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    (job_dir,) = (tmp_path / "vatti-data" / "objects" / "jobs").iterdir()
    outputs = tmp_path / "vatti-data" / "objects" / results_prefix(job_dir.name)
    with gzip.open(outputs / "aggregated_scores.txt.gz", "rt") as fh:
        header, *rows = [line.rstrip("\n").split("\t") for line in fh]
    assert len(rows) == 2 * 500
    pgs = header.index("PGS")
    iid = header.index("IID")
    assert {r[pgs] for r in rows} == {"PGS999901", "PGS999902"}
    assert len({r[iid] for r in rows}) == 500


def test_run_of_a_pgs_job_names_the_scores_it_did_not_compute(tmp_path: Path) -> None:
    """pgsc_calc's CINECA data with PGS001229_22 (passes) and customgrch37 (none of its 2
    variants on chromosome 1 match): the job succeeds, and vatti run names the dropped score."""
    data = shared_pgs_data() / "pgsc_calc/assets/examples"
    prefix = "cineca_synthetic_subset"
    for suffix in (".pgen", ".pvar", ".psam"):  # inputs must lie under the run's directory
        shutil.copy(data / "target_genomes" / f"{prefix}{suffix}", tmp_path)
    for name in ("PGS001229_22.txt", "customgrch37.txt"):
        shutil.copy(data / "scorefiles" / name, tmp_path)
    target = {"sampleset": "cineca", "chrom": "22", "format": "pfile"}
    target |= {"geno": f"{prefix}.pgen", "pheno": f"{prefix}.psam", "variants": f"{prefix}.pvar"}
    request = write_request(
        tmp_path,
        {
            "pipeline": "pgs",
            "params": {
                "target_genomes": [target],
                "scorefiles": ["PGS001229_22.txt", "customgrch37.txt"],
                "target_build": "GRCh37",
            },
        },
    )

    result = vatti("run", request.name, cwd=tmp_path, env=local_env(), timeout=120)

    assert result.returncode == 0, result.stderr
    assert "succeeded" in result.stdout
    warning = "warning: custom in cineca: none of 2 variants matched (not computed)"
    assert warning in " ".join(result.stderr.split())
    (job_dir,) = (tmp_path / "vatti-data" / "objects" / "jobs").iterdir()
    outputs = tmp_path / "vatti-data" / "objects" / results_prefix(job_dir.name)
    with gzip.open(outputs / "aggregated_scores.txt.gz", "rt") as fh:
        pgs = {line.split("\t")[3] for line in list(fh)[1:]}
    assert pgs == {"PGS001229"}
