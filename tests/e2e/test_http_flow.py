"""A client's view of ``vatti serve``: submit, follow, read results, fail, cancel, limits."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from tests.e2e.conftest import (
    JOBS,
    Server,
    command,
    example,
    group_alive,
    pid_alive,
    wait_for,
)

pytestmark = pytest.mark.e2e


def test_hello_job_end_to_end(served_any_db: Server) -> None:
    server = served_any_db
    http = server.http
    job = server.submit(example("command-hello.json"))
    assert job["state"] in {"queued", "provisioning", "running", "succeeded"}

    done = server.wait_state(job["id"])

    assert done["state"] == "succeeded", done
    assert done["failure"] is None
    events = http.get(f"{JOBS}/{job['id']}/events").json()["events"]
    assert [e["to_state"] for e in events] == [
        "requested",
        "queued",
        "provisioning",
        "running",
        "succeeded",
    ]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    outputs = http.get(f"{JOBS}/{job['id']}/outputs").json()["outputs"]
    assert [o["name"] for o in outputs] == ["hello.txt"]
    download = http.get(outputs[0]["url"])
    assert download.status_code == 200
    assert download.text == f"hello, world (job {job['id']})\n"
    assert int(download.headers["content-length"]) == outputs[0]["size"]
    logs = http.get(f"{JOBS}/{job['id']}/logs")
    assert logs.status_code == 200
    assert logs.text.strip()
    work = server.data_dir / "objects" / "jobs" / job["id"] / "work"
    assert not work.exists()
    assert server.stop() == 0, server.log()
    assert "engine.stopped" in server.log()


def test_failing_command_reports_step_and_exit_status(served: Server) -> None:
    job = served.submit(command("sh", "-c", "echo doomed >&2; exit 3"))

    done = served.wait_state(job["id"])

    assert done["state"] == "failed"
    failure = done["failure"]
    assert failure["step"] == "command"
    assert failure["exit_code"] == 3
    assert "3" in failure["message"]
    assert "doomed" in served.http.get(f"{JOBS}/{job['id']}/logs").text
    assert served.http.get(f"{JOBS}/{job['id']}/outputs").status_code == 404


def test_cancel_stops_the_whole_process_group(served: Server, shared: Path) -> None:
    pid_file = shared / f"pid-{uuid.uuid4().hex}"
    job = served.submit(command("sh", "-c", f"echo $$ > {pid_file}; exec sleep 600"))
    served.wait_state(job["id"], frozenset({"running"}))
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", 15, "the pid")
    pid = int(pid_file.read_text())
    pgid = os.getpgid(pid)
    assert pgid != os.getpgid(0)

    resp = served.http.post(f"{JOBS}/{job['id']}/cancel")

    assert resp.status_code == 202, resp.text
    done = served.wait_state(job["id"])
    assert done["state"] == "cancelled"
    wait_for(lambda: not pid_alive(pid), 10, f"process {pid} to go")
    wait_for(lambda: not group_alive(pgid), 10, f"process group {pgid} to go")
    again = served.http.post(f"{JOBS}/{job['id']}/cancel")
    assert again.status_code == 409


HOG = "b = bytearray(500 * 1024 * 1024); print(len(b))"


def test_memory_hog_fails_instead_of_hanging(served: Server) -> None:
    job = served.submit(command("python3", "-c", HOG, resources={"memory_mb": 64}))

    done = served.wait_state(job["id"])

    assert done["state"] == "failed", done
    assert done["failure"]["step"] == "command", done
    assert "MemoryError" in served.http.get(f"{JOBS}/{job['id']}/logs").text


def test_small_job_runs_under_a_small_memory_limit(served: Server) -> None:
    job = served.submit(command("sh", "-c", "echo small", resources={"memory_mb": 64}))

    done = served.wait_state(job["id"])

    assert done["state"] == "succeeded", done


def test_wall_time_limit_fails_the_job_with_timeout(served: Server) -> None:
    job = served.submit(command("sleep", "600", resources={"wall_time_s": 1}))

    done = served.wait_state(job["id"], timeout=20)

    assert done["state"] == "failed", done
    assert done["failure"]["code"] == "timeout"
