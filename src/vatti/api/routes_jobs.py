"""``/api/v1/jobs``: submit, list, read, cancel, events, logs and outputs.

Every handler calls the job service (synchronous: in a worker thread); its errors become the
JSON error envelope in :mod:`vatti.api.errors`.
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
from vatti.api.models import ErrorBody, EventList, JobList, JobOut, OutputList
from vatti.api.views import API_PREFIX, event_view, job_view, output_view
from vatti.domain.jobs import event_attempts
from vatti.domain.requests import PIPELINE_PATTERN
from vatti.domain.states import JobState
from vatti.pipelines.paths import safe_relative_path

DEDUP_HEADER = "X-Vatti-Deduplicated"

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 503)
}

router = APIRouter(prefix=f"{API_PREFIX}/jobs", tags=["jobs"], responses=_ERRORS)

Submit = Depends(require("submit"))
Read = Depends(require("read"))


@router.post(
    "",
    status_code=201,
    response_model=JobOut,
    dependencies=[Submit],
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
    submission = await asyncio.to_thread(state.service.submit, await request.body())
    view = job_view(submission.job)
    if submission.created:
        response.headers["Location"] = view.links.self
        return view
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
        state.service.list_jobs, state=job_state, pipeline=pipeline, limit=limit, cursor=cursor
    )
    return JobList(jobs=[job_view(j) for j in page.items], next_cursor=page.next_cursor)


@router.get("/{job_id}", response_model=JobOut, dependencies=[Read])
async def get_job(job_id: str, state: State) -> JobOut:
    return job_view(await asyncio.to_thread(state.service.get, job_id))


@router.post("/{job_id}/cancel", status_code=202, response_model=JobOut, dependencies=[Submit])
async def cancel_job(job_id: str, state: State) -> JobOut:
    """Cancel a job; 409 when it already finished."""
    return job_view(await asyncio.to_thread(state.service.cancel, job_id))


@router.post("/{job_id}/retry", status_code=202, response_model=JobOut, dependencies=[Submit])
async def retry_job(job_id: str, state: State) -> JobOut:
    """Queue a failed or cancelled job again: a new attempt of the same job, under the same
    ``client_id``, with its own events; 409 when the job did not end failed or cancelled."""
    return job_view(await asyncio.to_thread(state.service.retry, job_id))


@router.get("/{job_id}/events", response_model=EventList, dependencies=[Read])
async def job_events(job_id: str, state: State) -> EventList:
    """The job's audit trail, oldest first."""
    records = await asyncio.to_thread(state.service.events, job_id)
    attempts = event_attempts(records)
    return EventList(events=[event_view(r, a) for r, a in zip(records, attempts, strict=True)])


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
    return PlainTextResponse(await asyncio.to_thread(state.service.log, job_id, tail))


@router.get("/{job_id}/outputs", response_model=OutputList, dependencies=[Read])
async def job_outputs(job_id: str, state: State) -> OutputList:
    """The files of the job's results (name, size, sha256), from its manifest."""
    entries = await asyncio.to_thread(state.service.outputs, job_id)
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
    entry, chunks = await asyncio.to_thread(state.service.open_output, job_id, name)
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
