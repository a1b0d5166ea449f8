"""In-memory stand-ins for the engine's collaborators, for tests that need no real ones.

- :class:`ScriptedExecutor`: jobs stay pending or running until the test says how they ended;
  it records every launch, termination and cleanup, and serves logs the test wrote.
- :class:`InertExecutor`: accepts every job and reports it running forever (API tests).
- :class:`RecordingAreas` / :class:`InertAreas`: work areas that record or ignore.
- :class:`DictOutcomes` / :class:`NoOutcomes`: outcome records from a dict, or none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from vatti.domain.outcome import Outcome
from vatti.executors.base import (
    LOG_CHUNK_BYTES,
    ExecStatus,
    Exited,
    Launch,
    LogChunk,
    Pending,
    Running,
)


@dataclass
class ScriptedExecutor:
    """Jobs run until the test says how they ended (``pending=True``: they wait to start)."""

    name: str = "scripted"
    pending: bool = False
    submitted: list[Launch] = field(default_factory=list)
    status: dict[str, ExecStatus] = field(default_factory=dict)
    logs: dict[str, bytes] = field(default_factory=dict)
    terminated: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    fail_submit: Exception | None = None
    runs: set[str] = field(default_factory=set)

    @staticmethod
    def handle_of(job_id: str) -> str:
        return f"h-{job_id}"

    def submit(self, launch: Launch) -> str:
        if self.fail_submit is not None:
            raise self.fail_submit
        self.submitted.append(launch)
        handle = self.handle_of(launch.job_id)
        self.status[handle] = Pending() if self.pending else Running()
        return handle

    def poll(self, handle: str) -> ExecStatus:
        return self.status[handle]

    def terminate(self, handle: str, grace_s: float) -> None:
        self.terminated.append(handle)
        self.status[handle] = Exited(143, "killed by signal SIGTERM")

    def cleanup(self, handle: str) -> None:
        self.cleaned.append(handle)

    def read_log(
        self, handle: str, offset: int = 0, limit: int = LOG_CHUNK_BYTES
    ) -> LogChunk | None:
        data = self.logs.get(handle)
        if data is None:
            return None
        part = data[offset : offset + limit]
        return LogChunk(part, offset + len(part))

    # what the test does to the jobs
    def start(self, job_id: str) -> None:
        self.status[self.handle_of(job_id)] = Running()

    def finish(self, job_id: str, status: ExecStatus) -> None:
        self.status[self.handle_of(job_id)] = status

    def write_log(self, job_id: str, data: bytes) -> None:
        handle = self.handle_of(job_id)
        self.logs[handle] = self.logs.get(handle, b"") + data

    # run records (logs), as the local executor keeps them
    def run_ids(self) -> Iterable[str]:
        return sorted(self.runs)

    def delete_run(self, job_id: str) -> None:
        self.runs.discard(job_id)


class InertExecutor:
    """Accepts every job; reports it running forever; has no logs."""

    name = "inert"

    def submit(self, launch: Launch) -> str:
        return launch.job_id

    def poll(self, handle: str) -> ExecStatus:
        return Running()

    def terminate(self, handle: str, grace_s: float) -> None:
        return None

    def cleanup(self, handle: str) -> None:
        return None

    def read_log(
        self, handle: str, offset: int = 0, limit: int = LOG_CHUNK_BYTES
    ) -> LogChunk | None:
        return None


@dataclass
class RecordingAreas:
    """Work areas in memory: the specs provisioned, the deletions and the saved logs."""

    specs: dict[str, Mapping[str, object]] = field(default_factory=dict)
    work_deleted: list[str] = field(default_factory=list)
    results_deleted: list[str] = field(default_factory=list)
    saved_logs: dict[str, bytes] = field(default_factory=dict)
    #: jobs with a results area (the tests add them; delete_results removes them)
    results: set[str] = field(default_factory=set)

    def provision(self, job_id: str, spec: Mapping[str, object]) -> None:
        self.specs[job_id] = spec

    def delete_work(self, job_id: str) -> None:
        self.work_deleted.append(job_id)
        self.specs.pop(job_id, None)

    def delete_results(self, job_id: str) -> None:
        self.results_deleted.append(job_id)
        self.results.discard(job_id)

    def work_job_ids(self) -> Iterable[str]:
        return list(self.specs)

    def results_job_ids(self) -> Iterable[str]:
        return sorted(self.results)

    def save_log(self, job_id: str, data: bytes) -> None:
        self.saved_logs[job_id] = data

    def logged_job_ids(self) -> Iterable[str]:
        return sorted(self.saved_logs)

    def delete_log(self, job_id: str) -> None:
        self.saved_logs.pop(job_id, None)


class InertAreas:
    """Work areas that keep nothing."""

    def provision(self, job_id: str, spec: Mapping[str, object]) -> None:
        return None

    def delete_work(self, job_id: str) -> None:
        return None

    def delete_results(self, job_id: str) -> None:
        return None

    def work_job_ids(self) -> Iterable[str]:
        return []

    def results_job_ids(self) -> Iterable[str]:
        return []

    def save_log(self, job_id: str, data: bytes) -> None:
        return None

    def logged_job_ids(self) -> Iterable[str]:
        return []

    def delete_log(self, job_id: str) -> None:
        return None


@dataclass
class DictOutcomes:
    """Outcome records the test put in ``records``."""

    records: dict[str, Outcome] = field(default_factory=dict)
    forgotten: list[str] = field(default_factory=list)

    def read(self, job_id: str) -> Outcome | None:
        return self.records.get(job_id)

    def forget(self, job_id: str) -> None:
        self.forgotten.append(job_id)
        self.records.pop(job_id, None)


class NoOutcomes:
    """No job ever wrote an outcome record."""

    def read(self, job_id: str) -> Outcome | None:
        return None

    def forget(self, job_id: str) -> None:
        return None
