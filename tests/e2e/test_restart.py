"""A server killed mid-job and restarted on the same data dir leaves nothing running or behind.

Local jobs run in sessions of their own, so they outlive a SIGKILLed server; the restarted
server reconciles them from their recorded exit status (or their absence).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import (
    JOBS,
    TERMINAL,
    Launcher,
    Server,
    command,
    example,
    pid_alive,
    wait_for,
)

pytestmark = pytest.mark.e2e

ONE_AT_A_TIME = {"VATTI_MAX_CONCURRENT_JOBS": "1"}
#: a server killed while it admits keeps the admission lease; the restarted server releases the
#: leases of dead replicas of its host at start-up, so queued jobs run at once
QUEUED_AFTER_KILL_S = 20.0


def gated_job(shared: Path) -> tuple[dict[str, Any], Path, Path]:
    """A job that records its pid, then waits for a gate file before writing its output (both in
    ``shared``, which the job reaches under its own uid)."""
    pid_file, gate = shared / "pid", shared / "gate"
    script = (
        f"echo $$ > {pid_file}; while [ ! -e {gate} ]; do sleep 0.05; done; echo finished > out.txt"
    )
    return command("sh", "-c", script, params={"outputs": ["out.txt"]}), pid_file, gate


def start_and_kill(
    launcher: Launcher, data: Path, shared: Path, env: dict[str, str] | None = None
) -> tuple[str, str, int, Path]:
    """Run the gated job, queue a hello job behind it, SIGKILL the server; return their ids."""
    server = launcher.start(data, {**ONE_AT_A_TIME, **(env or {})})
    body, pid_file, gate = gated_job(shared)
    running = server.submit(body)
    server.wait_state(running["id"], frozenset({"running"}))
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", 15, "the pid")
    queued = server.submit(example("command-hello.json"))
    assert server.job(queued["id"])["state"] == "queued"

    server.kill()

    pid = int(pid_file.read_text())
    assert pid_alive(pid), "the job should outlive its server"
    return running["id"], queued["id"], pid, gate


def assert_settled(server: Server, *job_ids: str) -> None:
    jobs = server.http.get(JOBS, params={"limit": 100}).json()["jobs"]
    assert all(j["state"] in TERMINAL for j in jobs), [(j["id"], j["state"]) for j in jobs]
    for job_id in job_ids:
        work = server.data_dir / "objects" / "jobs" / job_id / "work"
        wait_for(lambda w=work: not w.exists(), 10, f"{work} to be removed")


def test_job_finishing_while_the_server_is_down_succeeds_after_restart(
    launcher: Launcher, tmp_path: Path, db_env: dict[str, str], shared: Path
) -> None:
    data = tmp_path / "data"
    running_id, queued_id, pid, gate = start_and_kill(launcher, data, shared, db_env)
    gate.touch()
    wait_for(lambda: not pid_alive(pid), 15, "the job to finish")

    server = launcher.start(data, {**ONE_AT_A_TIME, **db_env})

    done = server.wait_state(running_id)
    assert done["state"] == "succeeded", done
    out = server.http.get(f"{JOBS}/{running_id}/outputs/out.txt")
    assert out.text == "finished\n"
    queued = server.wait_state(queued_id, timeout=QUEUED_AFTER_KILL_S)
    assert queued["state"] == "succeeded", queued
    assert server.http.get(f"{JOBS}/{queued_id}/outputs/hello.txt").text.startswith("hello")
    assert_settled(server, running_id, queued_id)


def test_job_killed_while_the_server_is_down_fails_with_a_reason(
    launcher: Launcher, tmp_path: Path, shared: Path
) -> None:
    data = tmp_path / "data"
    running_id, queued_id, pid, _ = start_and_kill(launcher, data, shared)
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), 10, "the job's group to die")

    server = launcher.start(data, ONE_AT_A_TIME)

    done = server.wait_state(running_id)
    assert done["state"] == "failed", done
    assert done["failure"]["code"] == "vanished"
    assert "restart" in done["failure"]["message"]
    queued = server.wait_state(queued_id, timeout=QUEUED_AFTER_KILL_S)
    assert queued["state"] == "succeeded", queued
    assert_settled(server, running_id, queued_id)


def test_job_still_running_at_restart_is_followed_to_the_end(
    launcher: Launcher, tmp_path: Path, shared: Path
) -> None:
    data = tmp_path / "data"
    running_id, queued_id, pid, gate = start_and_kill(launcher, data, shared)

    server = launcher.start(data, ONE_AT_A_TIME)
    assert server.job(running_id)["state"] == "running"
    gate.touch()

    done = server.wait_state(running_id)
    assert done["state"] == "succeeded", done
    assert server.wait_state(queued_id, timeout=QUEUED_AFTER_KILL_S)["state"] == "succeeded"
    wait_for(lambda: not pid_alive(pid), 10, f"process {pid} to go")
    assert_settled(server, running_id, queued_id)
