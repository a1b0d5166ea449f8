"""``vatti engine`` and ``vatti serve --no-engine`` as processes; ``vatti serve``'s engine."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import (
    JOBS,
    Launcher,
    clean_env,
    command,
    example,
    unique,
    vatti,
    wait_for,
)
from tests.e2e.processes import Cluster

pytestmark = pytest.mark.e2e


def test_engine_refuses_invalid_settings_naming_each(tmp_path: Path) -> None:
    env = clean_env(
        VATTI_DATA_DIR=str(tmp_path / "data"),
        VATTI_MAX_CONCURRENT_JOBS="0",
        VATTI_ENGINE_LEASE_TTL="soon",
    )
    result = vatti("engine", cwd=tmp_path, env=env)
    assert result.returncode == 78
    assert "VATTI_MAX_CONCURRENT_JOBS" in result.stderr
    assert "VATTI_ENGINE_LEASE_TTL" in result.stderr


def test_an_api_replica_and_one_engine_on_sqlite(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, VATTI_POLL_INTERVAL="0.2")
    try:
        cluster.api()
        # an API-only replica is ready without an engine of its own
        ready = httpx.get(f"{cluster.url}/readyz", timeout=5).json()
        assert ready["checks"] == {"database": True, "schema": True}
        engine = cluster.engine("engine")

        second = vatti("engine", cwd=tmp_path, env=cluster.env)
        assert second.returncode == 78
        assert "SQLite keeps one engine" in second.stderr
        request = tmp_path / "noop.json"
        request.write_text(json.dumps(unique(example("command-noop.json"))))
        ran = vatti("run", request.name, cwd=tmp_path, env=cluster.env)
        assert ran.returncode == 78  # a local vatti run's engine is one more engine
        assert "SQLite keeps one engine" in ran.stderr

        headers = {"Authorization": f"Bearer {cluster.token}"}
        with httpx.Client(base_url=cluster.url, headers=headers, timeout=10) as http:
            job = http.post(JOBS, json=unique(example("command-noop.json"))).json()

            def ended() -> bool:
                state = http.get(f"{JOBS}/{job['id']}").json()["state"]
                return state in ("succeeded", "failed", "cancelled")

            wait_for(ended, 60, "the job to end")
            assert http.get(f"{JOBS}/{job['id']}").json()["state"] == "succeeded"
        assert engine.stop() == 0  # SIGTERM: a clean stop
        assert "engine.stopped" in engine.log()
    finally:
        cluster.stop_all()


def test_a_crashed_engine_loop_stops_serve_loudly(launcher: Launcher, tmp_path: Path) -> None:
    server = launcher.start(tmp_path / "data")
    job = server.submit(command("sleep", "30"))
    server.wait_state(job["id"], frozenset({"running"}))
    # a row the engine cannot read: its poll loop crashes (an internal error, not an outage)
    with sqlite3.connect(tmp_path / "data" / "vatti.db") as db:
        db.execute("UPDATE jobs SET spec = '{' WHERE id = ?", (job["id"],))
    wait_for(lambda: server.proc.poll() is not None, 30, "vatti serve to stop")
    assert server.proc.returncode == 70
    assert "engine loop 'poll' crashed" in server.log()
