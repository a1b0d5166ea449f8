"""``/api/v1/jobs``: submit, list, read, cancel, events, logs and outputs.

The store is synchronous: every call to it (and to the engine) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import posixpath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from vatti.api.auth import require
from vatti.api.deps import State
from vatti.api.errors import ApiError
from vatti.api.limits import require_json
from vatti.api.models import ErrorBody, EventList, JobList, JobOut, OutputList
from vatti.api.submission import new_job, parse_job_request
from vatti.api.views import API_PREFIX, event_view, job_view, output_view
from vatti.domain.ids import ID_PATTERN as JOB_ID
from vatti.domain.jobs import Job
from vatti.domain.requests import PIPELINE_PATTERN
from vatti.domain.states import JobState
from vatti.pipelines.paths import safe_relative_path
from vatti.store.errors import JobNotFound

DEDUP_HEADER = "X-Vatti-Deduplicated"

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 503)
}

router = APIRouter(prefix=f"{API_PREFIX}/jobs", tags=["jobs"], responses=_ERRORS)

Submit = Depends(require("submit"))
Read = Depends(require("read"))
JsonBody = Depends(require_json)


async def _job(state: State, job_id: str) -> Job:
    return await asyncio.to_thread(state.store.get, known_id(job_id))


def known_id(job_id: str) -> str:
    """``job_id``, or :class:`JobNotFound` at once when no job could have it (ids are UUIDs)."""
    if not JOB_ID.fullmatch(job_id):
        raise JobNotFound(job_id)
    return job_id


@router.post(
    "",
    status_code=201,
    response_model=JobOut,
    dependencies=[Submit, JsonBody],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/JobRequest"}}
            },
        }
    },
    responses={200: {"model": JobOut, "description": "an identical request was deduplicated"}},
)
async def submit_job(request: Request, response: Response, state: State) -> JobOut:
    """Submit a job. 409 names the existing job of a known ``client_id``; an identical request
    within the dedup window returns the existing job with 200 and ``X-Vatti-Deduplicated``."""
    job_request = parse_job_request(await request.body())
    new = await asyncio.to_thread(new_job, job_request, state.registry)
    result = await asyncio.to_thread(
        state.engine.submit, new, dedup_window_s=state.config.dedup_window_s
    )
    view = job_view(result.job)
    if result.created:
        response.headers["Location"] = view.links.self
        return view
    if result.conflict == "client_id":
        raise ApiError(
            409,
            "duplicate_client_id",
            f"a job with client_id {new.client_id!r} already exists",
            extra={"job": view.model_dump(mode="json")},
        )
    response.status_code = 200
    response.headers[DEDUP_HEADER] = "true"
    return view


@router.get("", response_model=JobList, dependencies=[Read])
async def list_jobs(
    state: State,
    job_state: Annotated[list[JobState] | None, Query(alias="state")] = None,
    pipeline: Annotated[str | None, Query(max_length=64, pattern=PIPELINE_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JobList:
    """Jobs, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    cap = state.config.page_limit_max
    if limit > cap:
        raise ApiError(
            422,
            "invalid_request",
            "the request is invalid",
            details=[{"field": "limit", "message": f"must be at most {cap}"}],
        )
    page = await asyncio.to_thread(
        state.store.list_jobs, state=job_state, pipeline=pipeline, limit=limit, cursor=cursor
    )
    return JobList(jobs=[job_view(j) for j in page.items], next_cursor=page.next_cursor)


@router.get("/{job_id}", response_model=JobOut, dependencies=[Read])
async def get_job(job_id: str, state: State) -> JobOut:
    return job_view(await _job(state, job_id))


@router.post("/{job_id}/cancel", status_code=202, response_model=JobOut, dependencies=[Submit])
async def cancel_job(job_id: str, state: State) -> JobOut:
    """Cancel a job; 409 when it already finished."""
    return job_view(await asyncio.to_thread(state.engine.cancel, known_id(job_id)))


@router.get("/{job_id}/events", response_model=EventList, dependencies=[Read])
async def job_events(job_id: str, state: State) -> EventList:
    """The job's audit trail, oldest first."""
    await _job(state, job_id)
    records = await asyncio.to_thread(state.store.events, job_id)
    return EventList(events=[event_view(r) for r in records])


@router.get(
    "/{job_id}/logs",
    response_class=PlainTextResponse,
    dependencies=[Read],
    responses={200: {"content": {"text/plain": {}}}},
)
async def job_logs(
    job_id: str, state: State, tail: Annotated[int | None, Query(ge=0, le=1_000_000)] = None
) -> PlainTextResponse:
    """The job's log as text; ``tail`` keeps only the last lines."""
    await _job(state, job_id)
    text = await asyncio.to_thread(state.logs.read_log, job_id, tail)
    if text is None:
        raise ApiError(404, "logs_not_found", f"job {job_id} has no logs")
    return PlainTextResponse(text)


@router.get("/{job_id}/outputs", response_model=OutputList, dependencies=[Read])
async def job_outputs(job_id: str, state: State) -> OutputList:
    """The files of the job's results (name, size, sha256), from its manifest."""
    job = await _job(state, job_id)
    entries = await asyncio.to_thread(state.outputs.list_outputs, job_id)
    if entries is None:
        raise ApiError(404, "outputs_not_found", f"job {job_id} has no results ({job.state})")
    return OutputList(outputs=[output_view(job_id, e) for e in entries])


@router.get(
    "/{job_id}/outputs/{name:path}",
    response_class=StreamingResponse,
    dependencies=[Read],
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_output(job_id: str, name: str, state: State) -> StreamingResponse:
    """One output file, streamed."""
    try:
        name = safe_relative_path(name)
    except ValueError as exc:
        raise ApiError(
            400,
            "invalid_output_name",
            "invalid output name",
            details=[{"field": "name", "message": str(exc)}],
        ) from exc
    await _job(state, job_id)
    entries = await asyncio.to_thread(state.outputs.list_outputs, job_id) or []
    entry = next((e for e in entries if e.name == name), None)
    chunks = await asyncio.to_thread(state.outputs.open_output, job_id, name) if entry else None
    if entry is None or chunks is None:
        raise ApiError(404, "output_not_found", f"job {job_id} has no output {name!r}")
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(entry.size),
            "Content-Disposition": content_disposition(posixpath.basename(name)),
            "X-Checksum-Sha256": entry.sha256,
        },
    )


def content_disposition(filename: str) -> str:
    """An ``attachment`` header for any file name: an ASCII fallback and the UTF-8 name (RFC 6266).

    >>> content_disposition("scores.tsv")
    'attachment; filename="scores.tsv"'
    >>> print(content_disposition('日本 "x".txt'))
    attachment; filename="__ _x_.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%20%22x%22.txt
    """
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
