"""Engine integration fixtures: a real SQLite store, real job processes running the real runtime.

The object store is a plain directory (a ``file://`` URL for the runtime); each job runs the real
runtime (``python -m vatti.runtime``, or forked by the local executor's launcher). Every
test runs twice: on the real :class:`~vatti.executors.local.LocalExecutor` ("local") and on
:class:`GroupExecutor`, a minimal process-group launcher defined here ("group"), so the engine
is shown not to depend on one executor's quirks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from vatti.domain.layout import RESULTS_PREFIX, log_key, outcome_key, results_area
from vatti.domain.outcome import Outcome
from vatti.engine.context import EngineContext
from vatti.engine.ports import (
    LOG_CHUNK_BYTES,
    ExecStatus,
    Exited,
    Launch,
    LogChunk,
    Running,
    Vanished,
)
from vatti.engine.service import Engine
from vatti.executors.local import LocalExecutor
from vatti.store.sql import SqlJobStore, open_store
from vatti.testing.config import engine_config


@dataclass
class DirAreas:
    root: Path

    def provision(self, job_id: str, spec: Mapping[str, object]) -> None:
        path = self.root / "jobs" / job_id / "work" / "spec.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(spec))

    def delete_work(self, job_id: str) -> None:
        shutil.rmtree(self.root / "jobs" / job_id / "work", ignore_errors=True)

    def delete_results(self, job_id: str) -> None:
        shutil.rmtree(self.root / results_area(job_id), ignore_errors=True)

    def work_job_ids(self) -> list[str]:
        jobs = self.root / "jobs"
        return [p.name for p in jobs.iterdir() if (p / "work").is_dir()] if jobs.is_dir() else []

    def results_job_ids(self) -> list[str]:
        results = self.root / RESULTS_PREFIX
        return [p.name for p in results.iterdir()] if results.is_dir() else []

    def save_log(self, job_id: str, data: bytes) -> None:
        path = self.root / log_key(job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def logged_job_ids(self) -> list[str]:
        jobs = self.root / "jobs"
        if not jobs.is_dir():
            return []
        return [p.name for p in jobs.iterdir() if (self.root / log_key(p.name)).is_file()]

    def delete_log(self, job_id: str) -> None:
        (self.root / log_key(job_id)).unlink(missing_ok=True)


@dataclass
class DirOutcomes:
    root: Path

    def read(self, job_id: str) -> Outcome | None:
        path = self.root / outcome_key(job_id)
        return Outcome.from_json(path.read_bytes()) if path.is_file() else None

    def forget(self, job_id: str) -> None:
        (self.root / outcome_key(job_id)).unlink(missing_ok=True)


def group_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.01)
    return False


@dataclass
class GroupExecutor:
    """Each job's runtime in its own session/process group, started by ``subprocess``; after a
    "restart" it only sees live pids. Secrets are not delivered (these tests use none)."""

    log_dir: Path
    scratch_root: Path
    name: str = "test-group"
    children: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def submit(self, launch: Launch) -> str:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ["PATH"],
            **launch.env,
            "VATTI_SCRATCH_DIR": str(self.scratch_root),
        }
        argv = [sys.executable, "-m", "vatti.runtime", "--job-id", launch.job_id]
        with (self.log_dir / f"{launch.job_id}.log").open("ab") as log:
            proc = subprocess.Popen(
                argv, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT
            )
        self.children[proc.pid] = proc
        return json.dumps({"pid": proc.pid, "job_id": launch.job_id})

    def poll(self, handle: str) -> ExecStatus:
        pid = int(json.loads(handle)["pid"])
        child = self.children.get(pid)
        if child is not None:
            code = child.poll()
            return Running() if code is None else Exited(code)
        if psutil.pid_exists(pid):
            return Running()
        return Vanished(f"job process {pid} is gone without an exit status")

    def terminate(self, handle: str, grace_s: float) -> None:
        pid = int(json.loads(handle)["pid"])
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                return
            child = self.children.get(pid)
            if child is None:  # not our child (after a restart): wait for the group to go
                if group_gone(pid, grace_s):
                    return
                continue
            try:
                child.wait(grace_s)
                return
            except subprocess.TimeoutExpired:
                continue

    def cleanup(self, handle: str) -> None:
        body = json.loads(handle)
        child = self.children.pop(int(body["pid"]), None)
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        shutil.rmtree(self.scratch_root / str(body["job_id"]), ignore_errors=True)

    def read_log(
        self, handle: str, offset: int = 0, limit: int = LOG_CHUNK_BYTES
    ) -> LogChunk | None:
        path = self.log_dir / f"{json.loads(handle)['job_id']}.log"
        if not path.is_file():
            return None
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read(limit)
        return LogChunk(data, offset + len(data))


EXECUTOR_KINDS = ("local", "group")


@dataclass
class Rig:
    tmp: Path
    store: SqlJobStore
    objects: Path
    scratch: Path
    executor_kind: str = "local"
    built: list[LocalExecutor | GroupExecutor] = field(default_factory=list)

    def executor(self) -> LocalExecutor | GroupExecutor:
        """A new executor instance, as a (re)started server would build it."""
        executor: LocalExecutor | GroupExecutor
        if self.executor_kind == "local":
            executor = LocalExecutor(self.tmp / "data", scratch_root=self.scratch)
        else:
            executor = GroupExecutor(self.tmp / "runs", self.scratch)
        self.built.append(executor)
        return executor

    def close(self) -> None:
        for executor in self.built:
            if isinstance(executor, LocalExecutor):
                executor.close()

    @staticmethod
    def reap(engine: Engine, pid: int) -> None:
        """Collect a killed job process of ``engine``'s executor, as init would after a restart.

        The local executor collects its own dead children when it polls.
        """
        executor = engine.ctx.executor
        if isinstance(executor, GroupExecutor):
            executor.children[pid].wait()

    def context(self, **config: object) -> EngineContext:
        defaults: dict[str, object] = {
            "poll_interval_s": 0.05,
            "reconcile_interval_s": 0.5,
            "terminate_grace_s": 5.0,
            "runtime_env": {
                "VATTI_DATA_DIR": str(self.tmp / "data"),
                "VATTI_OBJECT_STORE_URL": self.objects.as_uri(),
                "VATTI_PGS_OFFLINE": "1",
            },
        }
        return EngineContext(
            store=self.store,
            executor=self.executor(),
            areas=DirAreas(self.objects),
            outcomes=DirOutcomes(self.objects),
            config=engine_config(**{**defaults, **config}),
            scratch_root=self.scratch,
        )

    def engine(self, **config: object) -> Engine:
        return Engine(self.context(**config))


@pytest.fixture(params=EXECUTOR_KINDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path, sqlite_database_url: str) -> Iterator[Rig]:
    store = open_store(sqlite_database_url)
    (tmp_path / "objects").mkdir()
    rig = Rig(tmp_path, store, tmp_path / "objects", tmp_path / "scratch", str(request.param))
    try:
        yield rig
    finally:
        rig.close()
        store.close()
