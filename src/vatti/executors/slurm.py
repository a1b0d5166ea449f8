"""Run each job as a SLURM batch job (``VATTI_EXECUTOR=slurm``).

:meth:`SlurmExecutor.submit` writes the attempt's files to the spool directory (a filesystem
the engine and the nodes share, :mod:`.slurm_runs`) and submits its batch script with ``sbatch``:
the job's CPUs (``VATTI_SLURM_CPUS_PER_JOB``), memory (the job's limit, plus what its wrapper
needs), time limit (vatti's wall time plus the margin, rounded up to SLURM's minutes), the
partition and account, its own output file, and the job's wrapper (:mod:`.slurm_job`), which
runs the job runtime. The handle holds the SLURM job id and the attempt's files, so a restarted
engine follows the job from it alone.

- ``poll``: the wrapper's exit record, when the job ended by itself; otherwise what SLURM says
  (one ``squeue`` for all of this user's jobs per :data:`SNAPSHOT_TTL_S`, then ``scontrol``,
  then ``sacct`` for a job slurmctld has forgotten), mapped by :mod:`.slurm_states`: time-limit
  and memory kills are ``Exited`` with ``limit`` set, a job SLURM no longer knows is vanished.
- ``terminate``: ``scancel`` at once for a queued job; a running one gets SIGTERM on every
  process (``scancel --full --signal=TERM``), then after the grace ``scancel`` (SIGTERM,
  ``KillWait``, SIGKILL).
- ``cleanup``: stops it, deletes its scratch and its batch script and request; keeps the log
  and the exit record.

Secrets never appear in the batch script, ``scontrol show job`` or the job's environment: they
are sealed (:mod:`.sealed_secrets`, the channel the Celery executor uses) with the spool's key
``secret.key`` into a file the wrapper deletes as it reads it, and reach the runtime on a pipe.
``--export=NONE``: nothing of the engine's environment goes to the job.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from vatti.executors.base import (
    LOG_CHUNK_BYTES,
    WALL_TIME_MARGIN_S,
    ExecStatus,
    Exited,
    Launch,
    LogChunk,
    Pending,
    Running,
)
from vatti.executors.errors import BadHandle, SubmitFailed
from vatti.executors.handles import handle_fields
from vatti.executors.local import DEFAULT_INHERITED_ENV, RUNTIME_ENTRY, SCRATCH_DIR_VAR
from vatti.executors.sealed_secrets import seal
from vatti.executors.slurm_commands import SlurmCommands, SlurmJob
from vatti.executors.slurm_runs import (
    BatchOptions,
    RunFiles,
    batch_script,
    request_body,
    write_atomic,
)
from vatti.executors.slurm_states import is_live, status_of

if TYPE_CHECKING:
    from vatti.config import Settings

HANDLE_VERSION: Final = 1
#: how long one ``squeue`` listing answers every poll
SNAPSHOT_TTL_S: Final = 0.5
#: memory the job's wrapper needs on top of the job's limit (SLURM counts every process)
WRAPPER_MEMORY_MB: Final = 64
#: how much of the end of the log is searched for SLURM's notes (a memory kill)
LOG_TAIL_BYTES: Final = 64 << 10
#: after the final scancel: how long to wait for SLURM to end the job (its KillWait and more)
KILL_WAIT_S: Final = 60.0
WAIT_STEP_S: Final = 0.1
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class SlurmHandle:
    """One attempt's SLURM job: its id, the spool's runs root, the scratch root, the limits it
    was given and where its part of the log starts."""

    job_id: str
    attempt: int
    slurm_id: str
    runs_root: str
    scratch_root: str
    memory_mb: int | None = None
    time_limit_min: int | None = None
    log_offset: int = 0

    @property
    def files(self) -> RunFiles:
        return RunFiles(Path(self.runs_root), self.job_id, self.attempt)

    def dumps(self) -> str:
        """The JSON form stored by the engine.

        >>> h = SlurmHandle("j1", 1, "42", "/s/runs", "/d/scratch", 512, 2, 0)
        >>> SlurmHandle.loads(h.dumps()) == h
        True
        """
        return json.dumps({"executor": "slurm", "v": HANDLE_VERSION, **asdict(self)})

    @classmethod
    def loads(cls, text: str) -> SlurmHandle:
        body = handle_fields(text, "slurm", HANDLE_VERSION)
        memory, minutes = body.get("memory_mb"), body.get("time_limit_min")
        try:
            handle = cls(
                str(body["job_id"]),
                int(body["attempt"]),
                str(body["slurm_id"]),
                str(body["runs_root"]),
                str(body["scratch_root"]),
                None if memory is None else int(memory),
                None if minutes is None else int(minutes),
                int(body.get("log_offset", 0)),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise BadHandle(f"invalid slurm executor handle: {exc!r}") from exc
        if not _JOB_ID.match(handle.job_id) or not handle.slurm_id.isdigit():
            raise BadHandle("invalid slurm executor handle: bad job id")
        return handle


def time_limit_min(wall_time_s: int | None, margin_s: float) -> int | None:
    """SLURM's ``--time`` (whole minutes) for vatti's wall time plus the margin.

    >>> [time_limit_min(wall, 30) for wall in (None, 1, 60, 3570)]
    [None, 1, 2, 60]
    """
    if not wall_time_s:
        return None
    return max(1, math.ceil((wall_time_s + margin_s) / 60))


class SlurmExecutor:
    """Jobs as SLURM batch jobs; see the module documentation."""

    name = "slurm"

    def __init__(
        self,
        spool_dir: Path,
        *,
        scratch_root: Path,
        commands: SlurmCommands | None = None,
        python: str | None = None,
        partition: str | None = None,
        account: str | None = None,
        cpus: int = 1,
        max_jobs: int | None = None,
        inherit_env: Iterable[str] = DEFAULT_INHERITED_ENV,
        entry: str = RUNTIME_ENTRY,
        wall_time_margin_s: float = WALL_TIME_MARGIN_S,
    ) -> None:
        self.spool_dir = Path(spool_dir).resolve()
        self.runs_root = self.spool_dir / "runs"
        self.scratch_root = Path(scratch_root).resolve()
        self.commands = commands or SlurmCommands()
        self.python = python or sys.executable
        self.partition, self.account, self.cpus = partition, account, cpus
        #: the executor's own limit on jobs at once (the engine's admission applies it)
        self.max_jobs = max_jobs
        self.inherit_env = tuple(inherit_env)
        self.entry = entry
        self.wall_time_margin_s = wall_time_margin_s
        self._lock = threading.Lock()
        self._snapshot: tuple[float, dict[str, SlurmJob]] = (-math.inf, {})

    # -- submit ---------------------------------------------------------------------------------

    def _keys(self) -> list[str]:
        from vatti.secretbox import key_file_keys

        self.spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return key_file_keys(self.spool_dir)

    def submit(self, launch: Launch) -> str:
        if not _JOB_ID.match(launch.job_id):
            raise SubmitFailed(f"invalid job id for the slurm executor: {launch.job_id!r}")
        files = RunFiles(self.runs_root, launch.job_id, launch.attempt)
        files.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        memory = launch.limits.memory_mb
        minutes = time_limit_min(launch.limits.wall_time_s, self.wall_time_margin_s)
        env = {
            **{k: os.environ[k] for k in self.inherit_env if k in os.environ},
            **launch.env,
            SCRATCH_DIR_VAR: str(self.scratch_root),
        }
        body = request_body(
            job_id=launch.job_id,
            attempt=launch.attempt,
            env=env,
            entry=self.entry,
            memory_mb=memory or 0,
            spool=self.spool_dir,
        )
        write_atomic(files.request, json.dumps(body))
        if launch.secrets:
            sealed = seal(self._keys(), launch.job_id, launch.attempt, launch.secrets)
            write_atomic(files.sealed, sealed)
        options = BatchOptions(
            job_name=f"vatti-{launch.job_id}",
            cpus=self.cpus,
            memory_mb=memory + WRAPPER_MEMORY_MB if memory else None,
            time_limit_min=minutes,
            partition=self.partition,
            account=self.account,
        )
        write_atomic(files.script, batch_script(options, files, self.python), mode=0o700)
        try:
            offset = files.log.stat().st_size
        except FileNotFoundError:
            offset = 0
        slurm_id = self.commands.sbatch(str(files.script))
        handle = SlurmHandle(
            launch.job_id,
            launch.attempt,
            slurm_id,
            str(self.runs_root),
            str(self.scratch_root),
            memory,
            minutes,
            offset,
        )
        return handle.dumps()

    # -- follow ---------------------------------------------------------------------------------

    def _slurm_job(self, slurm_id: str, *, fresh: bool = False) -> SlurmJob | None:
        """What SLURM says of the job: from one shared ``squeue`` listing, else the job alone."""
        with self._lock:
            taken, jobs = self._snapshot
            if fresh or time.monotonic() - taken > SNAPSHOT_TTL_S:
                jobs = self.commands.queue()
                self._snapshot = (time.monotonic(), jobs)
        job = jobs.get(slurm_id)
        if job is not None and is_live(job):
            return job
        return self.commands.find(slurm_id) or job

    def _log_tail(self, h: SlurmHandle) -> bytes:
        try:
            with h.files.log.open("rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(h.log_offset, size - LOG_TAIL_BYTES))
                return fh.read()
        except FileNotFoundError:
            return b""

    def _status(self, h: SlurmHandle, *, fresh: bool = False) -> ExecStatus:
        record = h.files.read_exit()
        if record is not None and record.signal is None:
            return Exited(record.code, record.reason)
        job = self._slurm_job(h.slurm_id, fresh=fresh)
        record = record or h.files.read_exit()  # it may have ended meanwhile
        return status_of(
            h.slurm_id,
            job,
            record,
            self._log_tail(h),
            memory_mb=h.memory_mb,
            time_limit_min=h.time_limit_min,
        )

    def poll(self, handle: str) -> ExecStatus:
        return self._status(SlurmHandle.loads(handle))

    # -- stop -----------------------------------------------------------------------------------

    def _wait_ended(self, h: SlurmHandle, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while isinstance(self._status(h, fresh=True), Pending | Running):
            if time.monotonic() >= deadline:
                return False
            time.sleep(WAIT_STEP_S)
        return True

    def terminate(self, handle: str, grace_s: float) -> None:
        h = SlurmHandle.loads(handle)
        status = self._status(h, fresh=True)
        if not isinstance(status, Pending | Running):
            return
        if isinstance(status, Running) and grace_s > 0:
            self.commands.cancel(h.slurm_id, signal="TERM")
            if self._wait_ended(h, grace_s):
                return
        self.commands.cancel(h.slurm_id)
        self._wait_ended(h, KILL_WAIT_S)

    def cleanup(self, handle: str) -> None:
        h = SlurmHandle.loads(handle)
        self.terminate(handle, 0.0)
        shutil.rmtree(Path(h.scratch_root) / h.job_id, ignore_errors=True)
        for path in (h.files.script, h.files.request, h.files.sealed):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # -- logs and records -----------------------------------------------------------------------

    def read_log(
        self, handle: str, offset: int = 0, limit: int = LOG_CHUNK_BYTES
    ) -> LogChunk | None:
        h = SlurmHandle.loads(handle)
        start = max(0, offset)
        try:
            with h.files.log.open("rb") as fh:
                fh.seek(start)
                data = fh.read(max(0, limit))
        except FileNotFoundError:
            return None
        return LogChunk(data, start + len(data))

    def run_ids(self) -> list[str]:
        if not self.runs_root.is_dir():
            return []
        return sorted(p.name for p in self.runs_root.iterdir() if p.is_dir())

    def delete_run(self, job_id: str) -> None:
        if _JOB_ID.match(job_id):
            shutil.rmtree(self.runs_root / job_id, ignore_errors=True)


def from_settings(settings: Settings) -> SlurmExecutor:
    """The registry's factory (``VATTI_EXECUTOR=slurm``)."""
    from vatti.executors.errors import ExecutorError

    slurm = settings.slurm
    if slurm is None:
        raise ExecutorError("the slurm settings were not loaded")
    problems = slurm.problems()
    if problems:
        raise ExecutorError("; ".join(problems))
    return SlurmExecutor(
        slurm.slurm_spool_dir or settings.data_dir / "slurm",
        scratch_root=settings.scratch_dir(),
        python=slurm.slurm_python,
        partition=slurm.slurm_partition,
        account=slurm.slurm_account,
        cpus=slurm.slurm_cpus_per_job,
        max_jobs=slurm.slurm_max_jobs,
    )
