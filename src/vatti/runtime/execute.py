"""One job run, independent of how it was launched: spec in, pipeline, results and outcome out.

:func:`execute` never raises for a job-level problem: every failure becomes the outcome record.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import MutableMapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vatti.domain.failure import Failure, FailureCode
from vatti.domain.inputs import C4GH_SUFFIX
from vatti.domain.layout import manifest_key, outcome_key, result_key, spec_key
from vatti.domain.manifest import Manifest, OutputEntry
from vatti.domain.outcome import Outcome
from vatti.domain.recipients import parse_public_key
from vatti.domain.times import utcnow
from vatti.errors import VattiError
from vatti.isolation.sandbox import Sandbox
from vatti.isolation.uids import JobUser
from vatti.pipelines.base import (
    JobSettings,
    P,
    Pipeline,
    PipelineOutcome,
    PipelineRegistry,
    RegisteredPipeline,
    RunContext,
)
from vatti.pipelines.errors import StepFailed
from vatti.pipelines.paths import safe_relative_path
from vatti.runtime.errors import InvalidSpec, Terminated
from vatti.staging.encrypt import encrypt_file
from vatti.staging.sources import Sources, stage_inputs

if TYPE_CHECKING:
    from vatti.config import SourceSettings, StoreSettings

CHUNK = 1 << 20


class Objects(Protocol):
    """The object-store operations the runtime uses."""

    def get_bytes(self, key: str) -> bytes: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path) -> None: ...


class JobLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the job id."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        job_id = self.extra["job_id"] if self.extra else "?"
        return f"job_id={job_id} {msg}", kwargs


def job_log(job_id: str) -> JobLog:
    return JobLog(logging.getLogger("vatti.job"), {"job_id": job_id})


def file_entry(path: Path, name: str) -> OutputEntry:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return OutputEntry(name, size, digest.hexdigest())


def read_spec(objects: Objects, job_id: str) -> dict[str, Any]:
    try:
        spec = json.loads(objects.get_bytes(spec_key(job_id)))
    except (ValueError, OSError, VattiError) as exc:
        raise InvalidSpec(f"cannot read the spec of job {job_id}: {exc}") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("pipeline"), str):
        raise InvalidSpec(f"the spec of job {job_id} names no pipeline")
    return spec


def upload_results(
    objects: Objects,
    job_id: str,
    output_dir: Path,
    names: list[str],
    recipient: bytes | None = None,
) -> list[OutputEntry]:
    """Upload each output to ``results/`` and write the manifest (name, size, sha256).

    With a ``recipient`` (a crypt4gh public key), each output is encrypted for it first (in the
    job's scratch, beside the outputs) and uploaded as ``NAME.c4gh``; the manifest lists those.
    """
    for name in names:  # every name first: a refused one uploads nothing
        checked_output(output_dir, name)
    entries = []
    sealed_dir = output_dir.parent / "sealed"
    for name in names:
        path = output_dir / name
        if recipient is not None:
            sealed = sealed_dir / f"{name}{C4GH_SUFFIX}"
            sealed.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            encrypt_file(path, sealed, [recipient])
            path, name = sealed, f"{name}{C4GH_SUFFIX}"
        entries.append(file_entry(path, name))
        objects.put_file(result_key(job_id, name), path)
        if recipient is not None:
            path.unlink()
    objects.put_bytes(manifest_key(job_id), Manifest(job_id, tuple(entries)).to_json())
    return entries


#: the failure code of an output whose name or file would leave the results area
OUTPUT_REFUSED = "output_refused"


def checked_output(output_dir: Path, name: str) -> None:
    """Refuse (``output_refused``) an output name that would leave the results area, or a
    file that is not a regular file inside the output dir (a symbolic link out of it)."""
    try:
        if safe_relative_path(name) != name:
            raise ValueError("is not in normal form")
    except ValueError as exc:
        raise StepFailed(
            "upload-results",
            f"output name {name!r} would leave the job's results area: {exc}",
            code=OUTPUT_REFUSED,
        ) from None
    path = output_dir / name
    if path.is_symlink() or not path.resolve().is_relative_to(output_dir.resolve()):
        raise StepFailed(
            "upload-results",
            f"output {name!r} points outside the job's outputs",
            code=OUTPUT_REFUSED,
        )
    if not path.is_file():
        raise StepFailed(
            "upload-results", f"output {name!r} is not a file the job produced", code=OUTPUT_REFUSED
        )


def results_recipient(spec: dict[str, Any]) -> bytes | None:
    """The public key the job's results are encrypted for, if its request gave one."""
    text = spec.get("results_public_key")
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidSpec("the spec's results_public_key is not a string")
    try:
        return parse_public_key(text)
    except ValueError as exc:
        raise InvalidSpec(f"the spec's results_public_key: {exc}") from None


def failure_of(exc: BaseException) -> Failure:
    if isinstance(exc, StepFailed):
        return Failure(exc.code, exc.message, step=exc.step, exit_code=exc.step_exit)
    if isinstance(exc, Terminated):
        return Failure(FailureCode.CANCELLED, f"job process stopped by signal {exc.signum}")
    if isinstance(exc, VattiError):
        return Failure(exc.code, exc.message)
    return Failure(FailureCode.INTERNAL, f"{type(exc).__name__}: {exc}")


def run_pipeline(
    pipeline: Pipeline[P],
    params: P,
    ctx: RunContext,
    *,
    inputs_dir: Path,
    sources: SourceSettings | None = None,
    buckets: StoreSettings | None = None,
    user: JobUser | None = None,
) -> PipelineOutcome:
    """Stage the inputs the pipeline declares into ``inputs_dir`` (in the job's scratch), from
    the input root, the ``sources`` configured (collection, secret keys) and the buckets
    ``buckets`` reaches, then run it on their local paths, its commands in a sandbox that gives
    ``user`` (None: this process's user) the work dir and the staged inputs."""
    ctx.log.info("runtime.staging")
    opened = Sources.from_settings(sources, ctx.settings.input_root, buckets)
    try:
        staged = stage_inputs(pipeline.inputs(params), inputs_dir, opened)
    finally:
        opened.close()
    ctx.log.info("runtime.pipeline_start pipeline=%s inputs=%d", pipeline.name, len(staged))
    sandbox = Sandbox(user, (ctx.work_dir, inputs_dir))
    return pipeline.run(params, replace(ctx, inputs=staged, sandbox=sandbox))


def execute(
    job_id: str,
    objects: Objects,
    registry: PipelineRegistry,
    scratch: Path,
    settings: JobSettings,
    log: JobLog,
    *,
    results: Objects | None = None,
    sources: SourceSettings | None = None,
    buckets: StoreSettings | None = None,
    user: JobUser | None = None,
) -> Outcome:
    """Run the job in ``scratch`` (which the caller creates and deletes); write the outcome.

    The spec is read from and the outcome written to ``objects`` (the work store); outputs and
    their manifest go to ``results`` (the results store; default: ``objects``). ``sources``
    configure where inputs beside local paths come from (their secrets included), ``buckets``
    how ``s3://`` and ``gs://`` inputs are reached; ``user`` is who the job's commands run as
    (None: this process's user)."""
    try:
        spec = read_spec(objects, job_id)
        registered = RegisteredPipeline(registry.get(spec["pipeline"]))
        params = registered.parse(spec.get("params") or {})
        work_dir, output_dir = scratch / "work", scratch / "out"
        work_dir.mkdir(mode=0o700)
        output_dir.mkdir(mode=0o700)
        ctx = RunContext(job_id, work_dir, output_dir, log, settings)
        produced = run_pipeline(
            registered.pipeline,
            params,
            ctx,
            inputs_dir=scratch / "inputs",
            sources=sources,
            buckets=buckets,
            user=user,
        )
        entries = upload_results(
            objects if results is None else results,
            job_id,
            output_dir,
            produced.outputs,
            results_recipient(spec),
        )
        log.info("runtime.results_uploaded outputs=%d", len(entries))
        for warning in produced.warnings:
            log.warning("runtime.warning code=%s: %s", warning.code, warning.message)
        outcome = Outcome(
            utcnow(),
            outputs=[e.name for e in entries],
            warnings=list(produced.warnings),
            summary=dict(produced.summary),
        )
    except Exception as exc:
        failure = failure_of(exc)
        if failure.code == FailureCode.INTERNAL:
            log.exception("runtime.internal_error")
        else:
            log.error("runtime.failed code=%s step=%s: %s", failure.code, failure.step, exc)
        outcome = Outcome(utcnow(), failure=failure)
    objects.put_bytes(outcome_key(job_id), outcome.to_json())
    return outcome
