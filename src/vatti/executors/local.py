"""Run each job as its own process group on this machine, forked by a pre-imported launcher.

:meth:`LocalExecutor.submit` asks the launcher (:mod:`vatti.executors.launcher`, one process per
executor, started on first use) to fork a wrapper for the job: the leader of a new session and
process group, which runs the job runtime (``entry``, by default
:func:`vatti.runtime.main.job_run_main`) in a child, appends its output to
``<data_dir>/runs/<job_id>/job.log`` and writes its exit status to ``exit.json`` next to it. The
handle records the wrapper's pid, group id and start time, the run dir and the job's scratch
dir, so a restarted engine (or launcher) still polls, stops and cleans up the job.

Limits: memory through ``RLIMIT_AS`` on the job process (address space, so an upper bound on real
memory); wall time is the engine's rule, and this executor's own deadline (in the handle,
enforced by :meth:`poll`) is vatti's plus a margin. Secrets reach the runtime through a pipe
(``VATTI_SECRETS_FD``), never its command line, environment or a file.

The job does not inherit the server's environment (which may hold secrets): it gets the
variables named in ``inherit_env`` (PATH, HOME, locale, ...) plus the launch's ``env``; the
launcher itself starts with those inherited variables only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vatti.domain.ids import ID_PATTERN
from vatti.executors import launcher, processes
from vatti.executors.base import (
    LOG_CHUNK_BYTES,
    WALL_TIME,
    WALL_TIME_MARGIN_S,
    ExecStatus,
    Exited,
    Launch,
    LogChunk,
    Running,
    Vanished,
)
from vatti.executors.errors import SubmitFailed
from vatti.executors.launcher_client import LauncherClient
from vatti.executors.local_handle import LocalHandle

if TYPE_CHECKING:
    from vatti.config import Settings

#: Exit status reported when the executor stopped a job at its wall-time deadline (as timeout(1)).
TIMEOUT_EXIT = 124
#: What each job runs: the job runtime.
RUNTIME_ENTRY = "vatti.runtime.main:job_run_main"
#: What the launcher imports before it forks any job.
RUNTIME_PRELOAD = ("vatti.runtime.main", "vatti.pipelines.command", "vatti.staging.stores")
SCRATCH_DIR_VAR = "VATTI_SCRATCH_DIR"
DEFAULT_INHERITED_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "USER",
    "VIRTUAL_ENV",
    "PYTHONPATH",
)
KILL_WAIT_S = 5.0


def runs_root(data_dir: Path) -> Path:
    return data_dir / "runs"


def read_exit(run_dir: Path) -> Exited | None:
    """The recorded exit status of a run, or None when there is none (yet)."""
    try:
        body = json.loads((run_dir / launcher.EXIT_FILE).read_text(encoding="utf-8"))
        reason, limit = body.get("reason"), body.get("limit")
        return Exited(
            int(body["code"]),
            None if reason is None else str(reason),
            None if limit is None else str(limit),
        )
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError, AttributeError):
        return Exited(-1, "unreadable exit status file")


class LocalExecutor:
    """Jobs as local process groups; see the module documentation."""

    name = "local"

    def __init__(
        self,
        data_dir: Path,
        *,
        scratch_root: Path | None = None,
        inherit_env: Iterable[str] = DEFAULT_INHERITED_ENV,
        timeout_grace_s: float = 5.0,
        wall_time_margin_s: float = WALL_TIME_MARGIN_S,
        entry: str = RUNTIME_ENTRY,
        preload: Sequence[str] = RUNTIME_PRELOAD,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.scratch_root = Path(scratch_root or self.data_dir / "scratch").resolve()
        self.inherit_env = tuple(inherit_env)
        self.timeout_grace_s = timeout_grace_s
        self.wall_time_margin_s = wall_time_margin_s
        self.entry = entry
        modules = (*preload, entry.partition(":")[0])
        self.launcher = LauncherClient(self.inherited_env(), tuple(dict.fromkeys(modules)))

    def run_dir(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or job_id in {".", ".."}:
            raise SubmitFailed(f"invalid job id for a run directory: {job_id!r}")
        return runs_root(self.data_dir) / job_id

    def log_path(self, job_id: str) -> Path:
        """Where the job's stdout and stderr go."""
        return self.run_dir(job_id) / launcher.LOG_FILE

    def inherited_env(self) -> dict[str, str]:
        return {k: os.environ[k] for k in self.inherit_env if k in os.environ}

    def job_env(self, env: Mapping[str, str]) -> dict[str, str]:
        return {**self.inherited_env(), **env, SCRATCH_DIR_VAR: str(self.scratch_root)}

    def on_exit(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(job_id)`` when a job started by this executor exits."""
        self.launcher.on_exit(callback)

    def submit(self, launch: Launch) -> str:
        run_dir = self.run_dir(launch.job_id)
        secrets = dict(launch.secrets)
        if len(json.dumps(secrets).encode()) > launcher.MAX_SECRETS_BYTES:
            raise SubmitFailed(f"job {launch.job_id}: the secrets are too large for the pipe")
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (run_dir / launcher.EXIT_FILE).unlink(missing_ok=True)  # from an earlier attempt
        request = {
            "job_id": launch.job_id,
            "run_dir": str(run_dir),
            "memory_mb": launch.limits.memory_mb or 0,
            "env": self.job_env(launch.env),
            "secrets": secrets,
            "entry": self.entry,
        }
        pid, create_time = self.launcher.start_job(request)
        wall = launch.limits.wall_time_s
        deadline = time.time() + wall + self.wall_time_margin_s if wall else None
        scratch = self.scratch_root / launch.job_id
        handle = LocalHandle(
            launch.job_id, pid, pid, create_time, str(run_dir), str(scratch), deadline
        )
        return handle.dumps()

    def poll(self, handle: str) -> ExecStatus:
        h = LocalHandle.loads(handle)
        status = read_exit(h.run_path)
        if status is not None:
            return status
        if processes.wrapper_alive(h):
            if h.deadline is not None and time.time() >= h.deadline:
                return self._stop_at_deadline(h)
            return Running()
        status = read_exit(h.run_path)  # it may have finished between the two looks
        if status is not None:
            return status
        return Vanished(f"process {h.pid} is gone without an exit status")

    def _stop_at_deadline(self, h: LocalHandle) -> Exited:
        self._terminate(h, self.timeout_grace_s)
        status = Exited(TIMEOUT_EXIT, "wall time exceeded: stopped by the executor", WALL_TIME)
        launcher.write_status(h.run_path, status.code, status.reason, status.limit)
        return status

    def terminate(self, handle: str, grace_s: float) -> None:
        self._terminate(LocalHandle.loads(handle), grace_s)

    @staticmethod
    def _terminate(h: LocalHandle, grace_s: float) -> None:
        processes.signal_group(h, signal.SIGTERM)
        if processes.wait_group_gone(h, grace_s):
            return
        processes.signal_group(h, signal.SIGKILL)
        processes.wait_group_gone(h, KILL_WAIT_S)
        if read_exit(h.run_path) is None:  # the wrapper went down with its group: say why
            reason = f"killed by signal SIGKILL: still running {grace_s:g} s after SIGTERM"
            launcher.write_status(h.run_path, 128 + signal.SIGKILL, reason)

    def cleanup(self, handle: str) -> None:
        """Kill what is left of the job's group; delete its scratch and exit status, not its log."""
        h = LocalHandle.loads(handle)
        processes.signal_group(h, signal.SIGKILL)
        processes.wait_group_gone(h, KILL_WAIT_S)
        shutil.rmtree(h.scratch_path, ignore_errors=True)
        (h.run_path / launcher.EXIT_FILE).unlink(missing_ok=True)

    def read_log(
        self, handle: str, offset: int = 0, limit: int = LOG_CHUNK_BYTES
    ) -> LogChunk | None:
        h = LocalHandle.loads(handle)
        try:
            with (h.run_path / launcher.LOG_FILE).open("rb") as fh:
                fh.seek(max(0, offset))
                data = fh.read(max(0, limit))
        except FileNotFoundError:
            return None
        return LogChunk(data, max(0, offset) + len(data))

    def run_ids(self) -> list[str]:
        """The jobs with a run dir (each holds the job's log), for the sweeper."""
        root = runs_root(self.data_dir)
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and ID_PATTERN.fullmatch(p.name))

    def delete_run(self, job_id: str) -> None:
        """Remove the job's run dir, log included (for the sweeper, when its retention ends)."""
        shutil.rmtree(self.run_dir(job_id), ignore_errors=True)

    def close(self) -> None:
        """Stop the launcher; running jobs go on (a new executor finds them from their handles)."""
        self.launcher.close()


def from_settings(settings: Settings) -> LocalExecutor:
    """The registry's factory (``VATTI_EXECUTOR=local``)."""
    return LocalExecutor(settings.data_dir, scratch_root=settings.scratch_dir())
