"""Run each job as its own process group on this machine.

Every job runs under :mod:`vatti.executors.wrapper`, the leader of a new session and process
group, which writes the job's exit status to ``<data_dir>/runs/<job_id>/exit.json`` and its
output to ``job.log`` next to it. The handle records the wrapper's pid, group id and start time
and the run dir, so a restarted server (no longer the wrapper's parent) can still poll and stop
the job. Limits: memory through ``RLIMIT_AS`` on the job process (address space, so an upper
bound on real memory); wall time through a deadline in the handle, enforced by :meth:`poll`.

The job does not inherit the server's environment (which may hold secrets): it gets the
variables named in ``inherit_env`` (PATH, HOME, locale, ...) plus the ``env`` it is given.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import psutil

from vatti.domain.ids import ID_PATTERN
from vatti.executors import processes, wrapper
from vatti.executors.base import ExecStatus, Exited, Limits, Running, Vanished
from vatti.executors.errors import SubmitFailed
from vatti.executors.local_handle import LocalHandle

#: Exit status reported when the executor stopped a job at its wall-time deadline (as timeout(1)).
TIMEOUT_EXIT = 124
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
        body = json.loads((run_dir / wrapper.EXIT_FILE).read_text(encoding="utf-8"))
        reason = body.get("reason")
        return Exited(int(body["code"]), None if reason is None else str(reason))
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
        inherit_env: Iterable[str] = DEFAULT_INHERITED_ENV,
        timeout_grace_s: float = 5.0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.inherit_env = tuple(inherit_env)
        self.timeout_grace_s = timeout_grace_s

    def run_dir(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or job_id in {".", ".."}:
            raise SubmitFailed(f"invalid job id for a run directory: {job_id!r}")
        return runs_root(self.data_dir) / job_id

    def log_path(self, job_id: str) -> Path:
        """Where the job's stdout and stderr go."""
        return self.run_dir(job_id) / wrapper.LOG_FILE

    def job_env(self, env: Mapping[str, str]) -> dict[str, str]:
        base = {k: os.environ[k] for k in self.inherit_env if k in os.environ}
        return {**base, **env}

    def submit(
        self, job_id: str, argv: Sequence[str], env: Mapping[str, str], limits: Limits
    ) -> str:
        if not argv:
            raise SubmitFailed(f"job {job_id}: empty command")
        run_dir = self.run_dir(job_id)
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (run_dir / wrapper.EXIT_FILE).unlink(missing_ok=True)  # from an earlier attempt
        command = [
            sys.executable,
            "-I",
            str(Path(wrapper.__file__).resolve()),
            str(run_dir),
            str(limits.memory_mb or 0),
            "--",
            *argv,
        ]
        try:
            pid = self._spawn(command, run_dir, self.job_env(env))
            create_time = psutil.Process(pid).create_time()
        except (OSError, psutil.Error) as exc:
            raise SubmitFailed(f"job {job_id}: cannot start {argv[0]!r}: {exc}") from exc
        deadline = time.time() + limits.wall_time_s if limits.wall_time_s else None
        handle = LocalHandle(job_id, pid, pid, create_time, str(run_dir), deadline)
        return handle.dumps()

    @staticmethod
    def _spawn(command: list[str], run_dir: Path, env: Mapping[str, str]) -> int:
        """posix_spawn: no preexec_fn (unsafe with threads), no Popen object left to warn."""
        log = str(run_dir / wrapper.LOG_FILE)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, log, flags, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        return os.posix_spawn(
            command[0], command, dict(env), file_actions=actions, setsid=True, setsigdef=()
        )

    def poll(self, handle: str) -> ExecStatus:
        h = LocalHandle.loads(handle)
        status = read_exit(h.run_path)
        if status is not None:
            processes.reap(h)
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
        status = Exited(TIMEOUT_EXIT, "wall time exceeded: stopped by the executor")
        wrapper.write_status(h.run_path, status.code, status.reason)
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

    def cleanup(self, handle: str) -> None:
        """Kill whatever is left of the job's group and drop the exit status; keep the log."""
        h = LocalHandle.loads(handle)
        processes.signal_group(h, signal.SIGKILL)
        processes.wait_group_gone(h, KILL_WAIT_S)
        (h.run_path / wrapper.EXIT_FILE).unlink(missing_ok=True)

    def run_ids(self) -> list[str]:
        """The jobs with a run dir (each holds the job's log), for the sweeper."""
        root = runs_root(self.data_dir)
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and ID_PATTERN.fullmatch(p.name))

    def delete_run(self, job_id: str) -> None:
        """Remove the job's run dir, log included (for the sweeper, when its retention ends)."""
        shutil.rmtree(self.run_dir(job_id), ignore_errors=True)
