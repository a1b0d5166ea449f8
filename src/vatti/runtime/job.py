"""``vatti job-run --job-id ID``: run one job where the executor placed it.

Reads ``work/spec.json``, runs the pipeline in a private scratch dir, uploads the outputs with a
manifest, writes the outcome record, and deletes the scratch dir on success, failure and
SIGTERM alike. Logs go to stderr, which the executor captures into the job's log.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from vatti.domain.failure import Failure
from vatti.domain.layout import outcome_key
from vatti.domain.outcome import Outcome
from vatti.domain.times import utcnow
from vatti.isolation.errors import IsolationError
from vatti.isolation.hardening import jobs_get_own_uids
from vatti.isolation.uid_range import UidRange
from vatti.isolation.uids import JobUser, UidLeases
from vatti.pipelines.base import JobSettings, PipelineRegistry
from vatti.runtime.errors import Terminated
from vatti.runtime.execute import Objects, execute, job_log
from vatti.runtime.scratch import private_scratch
from vatti.runtime.signals import raise_on_stop_signals

if TYPE_CHECKING:
    from vatti.config import SourceSettings, StoreSettings

#: exit status when the pipeline failed (the outcome record says why)
EXIT_FAILED = 1


def run_job_in(
    job_id: str,
    objects: Objects,
    registry: PipelineRegistry,
    scratch_root: Path,
    settings: JobSettings | None = None,
    *,
    results: Objects | None = None,
    sources: SourceSettings | None = None,
    buckets: StoreSettings | None = None,
    job_uids: UidRange | None = None,
) -> int:
    """Run job ``job_id`` against ``objects`` (its outputs to ``results``, default
    ``objects``); the process exit status.

    ``settings`` (default: none, so no local input is read) are what the pipeline may use;
    ``sources`` where its inputs may come from beside local paths (default: nowhere), ``buckets``
    how it reaches ``s3://`` and ``gs://`` inputs (default: it reads none); ``job_uids``: when
    this process is root, the job's commands run under a uid leased from them for the job's
    life (default: as this process's user).
    """
    log = job_log(job_id)
    log.info("runtime.start")
    try:
        with (
            raise_on_stop_signals(),
            job_user(job_id, job_uids) as user,
            private_scratch(scratch_root, job_id, pass_through=user is not None) as scratch,
            temporary_files_in(scratch / "tmp"),
        ):
            if user is not None:
                log.info("runtime.job_user uid=%d gid=%d", user.uid, user.gid)
            outcome = execute(
                job_id,
                objects,
                registry,
                scratch,
                settings or JobSettings(),
                log,
                results=results,
                sources=sources,
                buckets=buckets,
                user=user,
            )
    except Terminated as exc:  # arrived after the outcome was written, or during cleanup
        log.warning("runtime.terminated signal=%d", exc.signum)
        return exc.exit_code
    except IsolationError as exc:  # no uid to run the job under: it never started
        log.error("runtime.failed code=%s: %s", exc.code, exc.message)
        failure = Failure(exc.code, exc.message)
        objects.put_bytes(outcome_key(job_id), Outcome(utcnow(), failure=failure).to_json())
        return EXIT_FAILED
    log.info("runtime.done ok=%s", outcome.ok)
    return 0 if outcome.ok else EXIT_FAILED


def job_user(job_id: str, uids: UidRange | None) -> AbstractContextManager[JobUser | None]:
    """The uid the job's commands run under, leased for the block (None: this process's)."""
    if uids is None or not jobs_get_own_uids():
        return nullcontext(None)
    return UidLeases(uids).lease(job_id)


@contextmanager
def temporary_files_in(directory: Path) -> Iterator[None]:
    """Temporary files of this job process (and its children) go into its private scratch.

    Pipelines may spill clear-text genotypes to temporary files; they must not land in the
    machine's shared ``/tmp``, only in the scratch dir that is deleted when the job ends.
    """
    directory.mkdir(mode=0o700, exist_ok=True)
    saved_env, saved_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = str(directory)
    tempfile.tempdir = str(directory)
    try:
        yield
    finally:
        tempfile.tempdir = saved_dir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
