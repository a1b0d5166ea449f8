"""Per-job areas in the object stores (keys: :mod:`vatti.domain.layout`).

:class:`ObjectWorkAreas` is the engine's ``WorkAreas`` (provision, save the log, delete) and what
the job service reads results and saved logs through; :class:`ObjectOutcomes` is the engine's
``Outcomes`` (the record ``vatti job-run`` writes). Work areas, outcomes and logs live in the work
store, outputs and manifests in the results store (the same store unless
``VATTI_RESULTS_STORE_URL`` names another). Every delete is of one job's own prefix.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

from vatti.domain import layout
from vatti.domain.errors import UnreadableRecord
from vatti.domain.manifest import Manifest, OutputEntry
from vatti.domain.outcome import Outcome
from vatti.staging.errors import ObjectNotFound, OutputNotFound
from vatti.staging.keys import check_segment
from vatti.staging.objects import ObjectStore


class ObjectWorkAreas:
    """Provision and delete job areas; list and read a job's outputs and its saved log."""

    def __init__(self, objects: ObjectStore, results: ObjectStore | None = None) -> None:
        self.objects = objects
        self.results = results if results is not None else objects

    def provision(self, job_id: str, spec: Mapping[str, object]) -> None:
        """Write the runtime spec to ``work/spec.json`` (overwrites: provisioning may replay)."""
        check_segment(job_id, "job id")
        body = json.dumps(dict(spec), sort_keys=True).encode()
        self.objects.put_bytes(layout.spec_key(job_id), body)

    def delete_work(self, job_id: str) -> None:
        self.objects.delete_prefix(layout.work_prefix(check_segment(job_id, "job id")))

    def delete_results(self, job_id: str) -> None:
        """Delete the outputs, then the manifest (so a listed output always exists).

        The saved log stays: a failed job's log matters most. The sweeper deletes it
        ``VATTI_RESULTS_TTL`` after the job ended (:meth:`delete_log`)."""
        self.results.delete_prefix(layout.results_prefix(check_segment(job_id, "job id")))
        self.results.delete(layout.manifest_key(job_id))

    def results_job_ids(self) -> list[str]:
        """The ids of the jobs that still have objects in the results store (for the sweeper)."""
        return self.results.list_dirs(layout.RESULTS_PREFIX)

    def work_job_ids(self) -> list[str]:
        """The ids of the jobs that still have objects under ``work/``."""
        ids = set()
        for key, _size in self.objects.list(layout.JOBS_PREFIX):
            if layout.is_work_key(key):
                job_id = layout.job_id_of(key)
                if job_id is not None:
                    ids.add(job_id)
        return sorted(ids)

    def save_log(self, job_id: str, data: bytes) -> None:
        """Keep the job's final log with its results (replaces an earlier attempt's)."""
        self.objects.put_bytes(layout.log_key(check_segment(job_id, "job id")), data)

    def delete_log(self, job_id: str) -> None:
        self.objects.delete(layout.log_key(check_segment(job_id, "job id")))

    def logged_job_ids(self) -> list[str]:
        """The ids of the jobs with a saved log (for the sweeper)."""
        ids = set()
        for key, _size in self.objects.list(layout.JOBS_PREFIX):
            job_id = layout.job_id_of(key)
            if job_id is not None and key == layout.log_key(job_id):
                ids.add(job_id)
        return sorted(ids)

    def read_log(self, job_id: str) -> bytes | None:
        """The saved log of a finished job, or None when there is none."""
        try:
            return self.objects.get_bytes(layout.log_key(check_segment(job_id, "job id")))
        except ObjectNotFound:
            return None

    def manifest(self, job_id: str) -> Manifest:
        """The job's manifest; :class:`OutputNotFound` when it has no results."""
        check_segment(job_id, "job id")
        try:
            data = self.results.get_bytes(layout.manifest_key(job_id))
        except ObjectNotFound:
            raise OutputNotFound(f"job {job_id} has no results") from None
        return Manifest.from_json(job_id, data)

    def list_outputs(self, job_id: str) -> list[OutputEntry]:
        """The job's outputs from its manifest; :class:`OutputNotFound` when it has none."""
        return list(self.manifest(job_id).outputs)

    def output(self, job_id: str, name: str) -> OutputEntry:
        """The manifest entry of output ``name``; :class:`OutputNotFound` when not listed."""
        entry = self.manifest(job_id).entry(name)
        if entry is None:
            raise OutputNotFound(f"job {job_id} has no output named {name!r}")
        return entry

    def open_output(self, job_id: str, name: str) -> Iterator[bytes]:
        """The bytes of output ``name`` in chunks (only names listed in the manifest)."""
        entry = self.output(job_id, name)
        try:
            return self.results.open_stream(layout.result_key(job_id, entry.name))
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
            data = self.objects.get_bytes(layout.outcome_key(job_id))
        except ObjectNotFound:
            return None
        try:
            return Outcome.from_json(data)
        except UnreadableRecord:
            return None

    def forget(self, job_id: str) -> None:
        self.objects.delete(layout.outcome_key(job_id))
