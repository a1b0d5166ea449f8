"""Engine integration fixtures: a real SQLite store, real job processes running the real runtime.

The object store is a plain directory; the runtime runs in its own process through
``runner.py`` (the real :func:`vatti.runtime.job.run_job_in` with the command pipeline). Every
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
import textwrap
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from vatti.domain.layout import outcome_key
from vatti.domain.outcome import Outcome
from vatti.engine.context import EngineContext
from vatti.engine.ports import ExecStatus, Exited, Limits, Running, Vanished
from vatti.engine.service import Engine
from vatti.executors.local import LocalExecutor
from vatti.store.sql import SqlJobStore, open_store
from vatti.testing.config import engine_config

RUNNER = """
import shutil
import sys
from pathlib import Path

from vatti.pipelines.base import default_registry
from vatti.logging_setup import configure_logging
from vatti.runtime.job import run_job_in


class DirObjects:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def get_bytes(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def put_bytes(self, key: str, data: bytes) -> None:
        self._path(key).write_bytes(data)

    def put_file(self, key: str, path: Path) -> None:
        shutil.copyfile(path, self._path(key))


if __name__ == "__main__":
    configure_logging(replace=False)
    job_id, store, scratch = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    sys.exit(run_job_in(job_id, DirObjects(store), default_registry(), scratch))
"""


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
        shutil.rmtree(self.root / "jobs" / job_id / "results", ignore_errors=True)

    def work_job_ids(self) -> list[str]:
        jobs = self.root / "jobs"
        return [p.name for p in jobs.iterdir() if (p / "work").is_dir()] if jobs.is_dir() else []


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
    """Each job in its own session/process group; after a "restart" it only sees live pids."""

    log_dir: Path
    name: str = "test-group"
    children: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def submit(
        self, job_id: str, argv: Sequence[str], env: Mapping[str, str], limits: Limits
    ) -> str:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{job_id}.log").open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                env={"PATH": os.environ["PATH"], **env},
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.children[proc.pid] = proc
        return json.dumps({"pid": proc.pid})

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
        pid = int(json.loads(handle)["pid"])
        child = self.children.pop(pid, None)
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()


EXECUTOR_KINDS = ("local", "group")


@dataclass
class Rig:
    tmp: Path
    store: SqlJobStore
    objects: Path
    scratch: Path
    runner: Path
    executor_kind: str = "local"

    def executor(self) -> LocalExecutor | GroupExecutor:
        """A new executor instance, as a (re)started server would build it."""
        if self.executor_kind == "local":
            return LocalExecutor(self.tmp / "data")
        return GroupExecutor(self.tmp / "runs")

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
            "job_argv": lambda job_id: [
                sys.executable,
                str(self.runner),
                job_id,
                str(self.objects),
                str(self.scratch),
            ],
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
    runner = tmp_path / "runner.py"
    runner.write_text(textwrap.dedent(RUNNER))
    store = open_store(sqlite_database_url)
    try:
        kind = str(request.param)
        yield Rig(tmp_path, store, tmp_path / "objects", tmp_path / "scratch", runner, kind)
    finally:
        store.close()
