"""Start-up does no needless work: what the CLI's light commands and the job runtime import.

Each process runs under a small driver that records ``sys.modules`` when it exits; the tests
assert which heavy modules are absent (or present), never how long anything took.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.e2e.conftest import EXAMPLES, clean_env

from vatti.domain.layout import outcome_key, spec_key
from vatti.domain.outcome import Outcome
from vatti.staging.objects import ObjectStore

pytestmark = pytest.mark.e2e

DRIVER = """
import atexit, json, runpy, sys
record = sys.argv.pop(1)
atexit.register(lambda: open(record, "w").write(json.dumps(sorted(sys.modules))))
runpy.run_module(sys.argv.pop(1), run_name="__main__", alter_sys=True)
"""

#: what the light commands never need: the calculator, the server, the database, HTTP
HEAVY = ("vatti.pipelines.pgs", "polars", "numpy", "fastapi", "uvicorn", "sqlalchemy", "httpx")
#: what a job's runtime never needs (and pgs code only for a pgs job)
NOT_IN_A_JOB = ("fastapi", "uvicorn", "typer", "rich", "sqlalchemy", "alembic")


def run_recorded(
    tmp_path: Path,
    module: str,
    args: Sequence[str],
    env: dict[str, str],
    pass_fds: Sequence[int] = (),
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    record = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(record), module, *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        pass_fds=pass_fds,
    )
    return proc, set(json.loads(record.read_text()))


def loaded(modules: set[str], names: Sequence[str]) -> list[str]:
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


@pytest.mark.parametrize(
    "args",
    [["--help"], ["status", "--help"], ["config"], ["config", "check", "-c", "runtime"]],
    ids=" ".join,
)
def test_light_commands_import_no_heavy_modules(tmp_path: Path, args: list[str]) -> None:
    proc, modules = run_recorded(tmp_path, "vatti", args, clean_env())
    assert proc.returncode == 0, proc.stderr
    assert loaded(modules, HEAVY) == []


def test_vatti_pgs_loads_the_calculator_when_it_is_the_command(tmp_path: Path) -> None:
    listing, _ = run_recorded(tmp_path, "vatti", ["--help"], clean_env())
    assert "Polygenic scores in the manner of the PGS Catalog Calculator." in listing.stdout
    proc, modules = run_recorded(tmp_path, "vatti", ["pgs", "--help"], clean_env())
    assert proc.returncode == 0, proc.stderr
    assert "Polygenic scores in the manner of the PGS Catalog Calculator." in proc.stdout
    assert "score" in proc.stdout
    assert loaded(modules, ["vatti.pipelines.pgs", "polars"]) == ["polars", "vatti.pipelines.pgs"]


def job_env(data: Path, **extra: str) -> dict[str, str]:
    return clean_env(VATTI_DATA_DIR=str(data), **extra)


def put_job(objects: ObjectStore, job_id: str, request: Path) -> None:
    body = json.loads(request.read_text())
    spec = {"job_id": job_id, "pipeline": body["pipeline"], "params": body["params"]}
    objects.put_bytes(spec_key(job_id), json.dumps(spec).encode())


def outcome_of(objects: ObjectStore, job_id: str) -> Outcome:
    return Outcome.from_json(objects.get_bytes(outcome_key(job_id)))


def test_a_command_job_imports_no_server_cli_or_pgs_code(tmp_path: Path) -> None:
    objects = ObjectStore.from_url((tmp_path / "data" / "objects").as_uri())
    put_job(objects, "j1", EXAMPLES / "command-hello.json")
    proc, modules = run_recorded(
        tmp_path, "vatti.runtime", ["--job-id", "j1"], job_env(tmp_path / "data")
    )
    assert proc.returncode == 0, proc.stderr
    assert outcome_of(objects, "j1").ok
    assert loaded(modules, [*NOT_IN_A_JOB, "vatti.pipelines.pgs", "polars", "numpy"]) == []


def test_a_pgs_job_imports_the_pgs_code_and_still_no_server_or_cli(tmp_path: Path) -> None:
    objects = ObjectStore.from_url((tmp_path / "data" / "objects").as_uri())
    put_job(objects, "j2", EXAMPLES / "hattivatti-message.json")
    proc, modules = run_recorded(
        tmp_path, "vatti.runtime", ["--job-id", "j2"], job_env(tmp_path / "data")
    )
    assert proc.returncode == 1  # no input root: its local genotypes are refused
    failure = outcome_of(objects, "j2").failure
    assert failure is not None
    assert failure.code == "input_refused"
    assert "vatti.pipelines.pgs.pipeline" in modules
    assert loaded(modules, NOT_IN_A_JOB) == []


def secrets_pipe(data: bytes) -> int:
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


def test_settings_on_the_secrets_pipe_overlay_the_environment(tmp_path: Path) -> None:
    """The job's object store is named only on the pipe: the job finds its spec there."""
    objects = ObjectStore.from_url((tmp_path / "elsewhere").as_uri())
    put_job(objects, "j3", EXAMPLES / "command-noop.json")
    fd = secrets_pipe(json.dumps({"VATTI_OBJECT_STORE_URL": objects.url}).encode())
    try:
        env = job_env(tmp_path / "data", VATTI_SECRETS_FD=str(fd))
        proc, _ = run_recorded(tmp_path, "vatti.runtime", ["--job-id", "j3"], env, [fd])
    finally:
        os.close(fd)
    assert proc.returncode == 0, proc.stderr
    assert outcome_of(objects, "j3").ok


@pytest.mark.parametrize(
    ("pipe", "message"),
    [
        (b'{"VATTI_OBJECT_STORE_URL": "ftp://hunter2/"}', "VATTI_OBJECT_STORE_URL: expected"),
        (b'{"VATTI_PASSWORD": "hunter2"}', "VATTI_PASSWORD: not a setting of this component"),
        (None, "VATTI_SECRETS_FD: cannot read the launch secrets from fd 9"),
    ],
    ids=["invalid", "unknown", "not-inherited"],
)
def test_a_bad_secrets_pipe_is_a_configuration_error(
    tmp_path: Path, pipe: bytes | None, message: str
) -> None:
    fds: list[int] = []
    if pipe is None:
        env = job_env(tmp_path / "data", VATTI_SECRETS_FD="9")
    else:
        fds.append(secrets_pipe(pipe))
        env = job_env(tmp_path / "data", VATTI_SECRETS_FD=str(fds[0]))
    try:
        proc, _ = run_recorded(tmp_path, "vatti.runtime", ["--job-id", "j4"], env, fds)
    finally:
        for fd in fds:
            os.close(fd)
    assert proc.returncode == 78
    assert message in proc.stderr
    assert "hunter2" not in proc.stderr
