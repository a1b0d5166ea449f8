"""One job on a Celery worker: its wrapper, forked by the worker's launcher (:func:`forked`).

The worker's task asks its pool process's launcher (:mod:`.launcher`: a process that only
imported this module and the job runtime, started apart from the worker, so nothing of the
worker is inherited: no open connection, no memory) to fork this wrapper as a new session, with
the request, secrets included. The wrapper forks the job as the launcher of the local executor does
(:func:`vatti.executors.launcher.run_job`: its environment, ``RLIMIT_AS``, the secrets on a pipe
named by ``VATTI_SECRETS_FD``), in a process group of its own, then follows it until it ends:

- its output, written to a file in the worker's run dir, is appended to the job's log in the
  state store as it grows (:mod:`.celery_records`);
- a heartbeat says every second that the job is looked after;
- a cancel request (popped from the store, so it is seen at once) stops the job's group:
  SIGTERM, the grace, then SIGKILL;
- the executor's own wall-time limit (vatti's wall time plus a margin, from the job's start)
  stops it the same way, reported with ``limit=wall_time``.

When the job ended the wrapper kills what is left of its group, deletes its run dir, writes the
last of the log and then the exit. The job's scratch (which the runtime deletes itself) is left
to the executor's clean-up, a control command to the worker (:mod:`.celery_worker`). The
wrapper outlives the worker's task: if the worker is lost, the job goes on and its end is still
recorded (the task's redelivery is discarded by the claim).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from vatti.executors import launcher, processes
from vatti.executors.base import WALL_TIME
from vatti.executors.celery_records import HEARTBEAT_EVERY_S, RunRecords
from vatti.isolation.hardening import protect_process

#: exit status reported when the executor's wall-time limit stopped a job (as timeout(1))
TIMEOUT_EXIT = 124
#: how long one turn of the follow loop waits for a cancel request
TURN_S = 0.05
KILL_WAIT_S = 5.0
READ_BYTES = 1 << 16
#: while the state store is unreachable: how often to try again, and for how long at the end
OUTAGE_STEP_S = 0.5
PERSIST_S = 120.0


@dataclass(frozen=True)
class Ending:
    code: int
    reason: str | None = None
    limit: str | None = None


class Job:
    """The forked job: its pid (= its process group) and how it ended."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.status: int | None = None

    def reap(self) -> bool:
        """True once the job process itself has exited (its status kept)."""
        if self.status is None:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.status = status
        return self.status is not None

    def group_gone(self) -> bool:
        self.reap()
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return not processes.live_members(self.pid)

    def signal_group(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def wait_group_gone(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not self.group_gone():
            if time.monotonic() >= deadline:
                return False
            time.sleep(processes.WAIT_STEP_S)
        return True

    def stop(self, grace_s: float) -> str | None:
        """SIGTERM the group, SIGKILL it after ``grace_s``; the reason when it took SIGKILL."""
        self.signal_group(signal.SIGTERM)
        if self.wait_group_gone(grace_s):
            return None
        self.signal_group(signal.SIGKILL)
        self.wait_group_gone(KILL_WAIT_S)
        return f"killed by signal SIGKILL: still running {grace_s:g} s after SIGTERM"

    def ending(self) -> Ending:
        while not self.reap():
            time.sleep(processes.WAIT_STEP_S)
        assert self.status is not None
        code, reason = launcher.status_of(os.waitstatus_to_exitcode(self.status))
        return Ending(code, reason)


class LogPump:
    """Copies what the job wrote to its log file into the store, as it grows.

    A chunk the store did not take (it was unreachable) is kept and sent again next time."""

    def __init__(self, path: Path, records: RunRecords, job_id: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self.records = records
        self.job_id = job_id
        self.full = False
        self.pending = b""

    def pump(self) -> None:
        while not self.full:
            if not self.pending:
                self.pending = os.read(self.fd, READ_BYTES)
                if not self.pending:
                    return
            self.full = self.records.append_log(self.job_id, self.pending) < 0
            self.pending = b""

    def close(self) -> None:
        os.close(self.fd)


def fork_job(request: dict[str, Any], log_path: Path, secrets: bytes) -> Job:
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return Job(launcher.fork_in_group(request, log_fd, secrets))


def follow(job: Job, request: dict[str, Any], records: RunRecords, pump: LogPump) -> Ending:
    job_id, attempt = str(request["job_id"]), int(request["attempt"])
    limit_s = float(request.get("deadline_s") or 0.0)
    deadline = time.monotonic() + limit_s if limit_s > 0 else None
    grace_s = float(request.get("timeout_grace_s") or 0.0)
    next_beat, outage = 0.0, False
    while True:
        if job.reap():
            return job.ending()
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            job.stop(grace_s)
            return Ending(TIMEOUT_EXIT, "wall time exceeded: stopped by the executor", WALL_TIME)
        try:
            if now >= next_beat:
                records.beat(job_id, attempt)
                next_beat = now + HEARTBEAT_EVERY_S
            pump.pump()
            cancel_grace = records.take_cancel(job_id, attempt, TURN_S)
        except redis.RedisError as exc:  # the job goes on; so does the wrapper, retrying
            if not outage:
                say(f"job {job_id}: the state store is unreachable, retrying: {exc}")
            outage = True
            time.sleep(OUTAGE_STEP_S)
            continue
        outage = False
        if cancel_grace is not None:
            forced = job.stop(cancel_grace)
            ended = job.ending()
            return Ending(128 + signal.SIGKILL, forced) if forced else ended


def run(request: dict[str, Any]) -> int:
    job_id, attempt = str(request["job_id"]), int(request["attempt"])
    run_dir = Path(str(request["run_dir"]))
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = run_dir / f"attempt-{attempt}.log"
    secrets = json.dumps(dict(request.pop("secrets", None) or {})).encode()
    job_request = {
        "job_id": job_id,
        "memory_mb": request.get("memory_mb") or 0,
        "env": request["env"],
        "entry": request["entry"],
    }
    job = fork_job(job_request, log_path, secrets)
    del secrets
    records = RunRecords.from_url(str(request["state_url"]), float(request["record_ttl_s"]))
    pump = LogPump(log_path, records, job_id)
    ending = Ending(launcher.CRASHED, "the job's wrapper failed")
    try:
        running = {
            "node": str(request.get("node", "")),
            "host": str(request.get("host", "")),
            "wrapper": str(os.getpid()),
            "pgid": str(job.pid),
        }
        persist(lambda: records.mark_running(job_id, attempt, running), f"job {job_id}: its start")
        ending = follow(job, request, records, pump)
    finally:
        if not job.group_gone():  # what is left of it (background children)
            job.signal_group(signal.SIGKILL)
            job.wait_group_gone(KILL_WAIT_S)
        try:
            persist(pump.pump, f"job {job_id}: the end of its log")
        finally:
            pump.close()
            shutil.rmtree(run_dir, ignore_errors=True)
            persist(
                lambda: records.mark_exited(
                    job_id, attempt, ending.code, ending.reason, ending.limit
                ),
                f"job {job_id}: its exit",
            )
            records.close()
    return ending.code


def say(line: str) -> None:
    """A line in the worker's log (the wrapper's stderr is the worker's)."""
    sys.stderr.write(f"vatti worker: {line}\n")
    sys.stderr.flush()


def persist(write: Callable[[], object], what: str) -> None:
    """Write to the state store, retrying while it is unreachable (up to :data:`PERSIST_S`)."""
    deadline = time.monotonic() + PERSIST_S
    while True:
        try:
            write()
            return
        except redis.RedisError as exc:
            if time.monotonic() >= deadline:
                say(f"{what} could not be recorded: {exc}")
                raise
            time.sleep(OUTAGE_STEP_S)


def forked(request: dict[str, Any]) -> int:
    """The wrapper as the worker's launcher forks it (:mod:`.launcher`): a session of its own,
    deaf to the stop signals its job's group gets, then :func:`run`."""
    protect_process()  # it holds the job's secrets until the job has read them
    os.setsid()
    for signum in launcher.STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    return run(request)
