"""Per-job areas in the object store: ``work/`` (spec, clear text), ``results/`` and manifest.

:class:`ObjectWorkAreas` is the engine's ``WorkAreas`` and what the API reads results through;
:class:`ObjectOutcomes` is the engine's ``Outcomes`` (the record ``vatti job-run`` writes).
Key layout: :mod:`vatti.runtime.layout`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from vatti.runtime.errors import InvalidOutcome
from vatti.runtime.layout import job_prefix, manifest_key, result_key, results_prefix, spec_key
from vatti.runtime.outcome import Outcome, outcome_key
from vatti.staging.errors import ObjectNotFound, OutputNotFound, StorageError
from vatti.staging.keys import check_segment
from vatti.staging.objects import ObjectStore

JOBS_PREFIX = "jobs/"
WORK_DIR = "work"


def work_prefix(job_id: str) -> str:
    return f"{job_prefix(job_id)}{WORK_DIR}/"


@dataclass(frozen=True)
class OutputEntry:
    """One uploaded output, as recorded in the job's manifest."""

    name: str
    size: int
    sha256: str


def parse_manifest(job_id: str, data: bytes) -> list[OutputEntry]:
    """The outputs listed in a manifest (see ``vatti.runtime.execute.upload_results``).

    >>> body = b'{"job_id": "j1", "outputs": [{"name": "a", "size": 1, "sha256": "x"}]}'
    >>> parse_manifest("j1", body)
    [OutputEntry(name='a', size=1, sha256='x')]
    """
    try:
        body = json.loads(data)
        return [
            OutputEntry(str(o["name"]), int(o["size"]), str(o["sha256"])) for o in body["outputs"]
        ]
    except (ValueError, TypeError, KeyError) as exc:
        raise StorageError(f"the manifest of job {job_id} is unreadable: {exc}") from exc


class ObjectWorkAreas:
    """Provision and delete job areas; list and read a job's outputs."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def provision(self, job_id: str, spec: Mapping[str, object]) -> None:
        """Write the runtime spec to ``work/spec.json`` (overwrites: provisioning may replay)."""
        check_segment(job_id, "job id")
        body = json.dumps(dict(spec), sort_keys=True).encode()
        self.objects.put_bytes(spec_key(job_id), body)

    def delete_work(self, job_id: str) -> None:
        self.objects.delete_prefix(work_prefix(check_segment(job_id, "job id")))

    def delete_results(self, job_id: str) -> None:
        """Delete the outputs, then the manifest (so a listed output always exists)."""
        self.objects.delete_prefix(results_prefix(check_segment(job_id, "job id")))
        self.objects.delete(manifest_key(job_id))

    def save_log(self, job_id: str, data: bytes) -> None:
        """Keep the job's final log at ``logs/job.log`` in its area (overwrites)."""
        key = f"{job_prefix(check_segment(job_id, 'job id'))}logs/job.log"
        self.objects.put_bytes(key, data)

    def work_job_ids(self) -> list[str]:
        """The ids of the jobs that still have objects under ``work/``."""
        ids = set()
        for key, _size in self.objects.list(JOBS_PREFIX):
            parts = key.split("/")
            if len(parts) > 3 and parts[2] == WORK_DIR:
                ids.add(parts[1])
        return sorted(ids)

    def list_outputs(self, job_id: str) -> list[OutputEntry]:
        """The job's outputs from its manifest; :class:`OutputNotFound` when it has none."""
        check_segment(job_id, "job id")
        try:
            data = self.objects.get_bytes(manifest_key(job_id))
        except ObjectNotFound:
            raise OutputNotFound(f"job {job_id} has no results") from None
        return parse_manifest(job_id, data)

    def output(self, job_id: str, name: str) -> OutputEntry:
        """The manifest entry of output ``name``; :class:`OutputNotFound` when not listed."""
        for entry in self.list_outputs(job_id):
            if entry.name == name:
                return entry
        raise OutputNotFound(f"job {job_id} has no output named {name!r}")

    def open_output(self, job_id: str, name: str) -> Iterator[bytes]:
        """The bytes of output ``name`` in chunks (only names listed in the manifest)."""
        entry = self.output(job_id, name)
        try:
            return self.objects.open_stream(result_key(job_id, entry.name))
        except ObjectNotFound:
            raise OutputNotFound(f"output {name!r} of job {job_id} is gone") from None


class ObjectOutcomes:
    """The engine's view of outcome records written by ``vatti job-run``."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def read(self, job_id: str) -> Outcome | None:
        """The job's outcome, or None when there is none or it is unreadable.

        Other storage errors propagate: a transient outage must not fail a finished job.
        """
        try:
            data = self.objects.get_bytes(outcome_key(job_id))
        except ObjectNotFound:
            return None
        try:
            return Outcome.from_json(data)
        except InvalidOutcome:
            return None

    def forget(self, job_id: str) -> None:
        self.objects.delete(outcome_key(job_id))
