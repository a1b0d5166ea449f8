"""``/api/v1/jobs``: submit, list, read, cancel, events, logs and outputs.

Every handler calls the job service (synchronous: in a worker thread) as the request's caller
(:func:`vatti.api.auth.require`), which sees its own tenant's jobs only; its errors become the
JSON error envelope in :mod:`vatti.api.errors`. Submissions are rate-limited per token (429).
"""

from __future__ import annotations

import asyncio
import math
import posixpath
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from vatti.api.auth import require
from vatti.api.deps import ApiState, State
from vatti.api.errors import ApiError
from vatti.api.limits import require_json
from vatti.api.models import ErrorBody, EventList, JobList, JobOut, OutputList
from vatti.api.views import API_PREFIX, event_view, job_view, output_view
from vatti.domain.access import TENANT_PATTERN, Caller
from vatti.domain.jobs import event_attempts
from vatti.domain.manifest import OutputEntry
from vatti.domain.requests import PIPELINE_PATTERN
from vatti.domain.scopes import READ, SUBMIT
from vatti.domain.states import JobState
from vatti.pipelines.paths import safe_relative_path

DEDUP_HEADER = "X-Vatti-Deduplicated"

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 503)
}
_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "the token submitted too many jobs; see Retry-After"}
}

router = APIRouter(prefix=f"{API_PREFIX}/jobs", tags=["jobs"], responses=_ERRORS)

_submitter, _reader = require(SUBMIT), require(READ)
#: the caller, checked once per request (FastAPI caches a dependency within a request)
Submitter = Annotated[Caller, Depends(_submitter)]
Reader = Annotated[Caller, Depends(_reader)]
JsonBody = Depends(require_json)


def check_rate(state: ApiState, caller: Caller) -> None:
    """429 with ``Retry-After`` when the caller's token is over its submission rate."""
    if state.throttle is None:
        return
    wait = state.throttle.take(caller.actor)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            "rate_limited",
            f"too many submissions from this token; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


@router.post(
    "",
    status_code=201,
    response_model=JobOut,
    dependencies=[Depends(_submitter), JsonBody],  # 401/403 before 415
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/JobRequest"}}
            },
        }
    },
    responses={
        200: {"model": JobOut, "description": "an identical request was deduplicated"},
        **_LIMITED,
    },
)
async def submit_job(
    request: Request, response: Response, state: State, caller: Submitter
) -> JobOut:
    """Submit a job for the token's tenant. 409 names the existing job of a ``client_id`` the
    tenant used already; an identical request of the tenant within the dedup window returns the
    existing job with 200 and ``X-Vatti-Deduplicated``. 403 when the token's scopes are narrowed
    to another pipeline or command; 429 with ``Retry-After`` over the token's rate."""
    check_rate(state, caller)
    body = await request.body()
    submission = await asyncio.to_thread(state.service.submit, body, caller=caller)
    view = job_view(submission.job)
    if submission.created:
        response.headers["Location"] = view.links.self
        return view
    response.status_code = 200
    response.headers[DEDUP_HEADER] = "true"
    return view


@router.get("", response_model=JobList)
async def list_jobs(
    state: State,
    caller: Reader,
    job_state: Annotated[list[JobState] | None, Query(alias="state")] = None,
    pipeline: Annotated[str | None, Query(max_length=64, pattern=PIPELINE_PATTERN)] = None,
    tenant: Annotated[str | None, Query(pattern=f"^{TENANT_PATTERN}$")] = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JobList:
    """The token's tenant's jobs (admin: every tenant's, or ``tenant``'s), newest first; pass
    ``next_cursor`` back as ``cursor`` for the next page."""
    cap = state.config.page_limit_max
    if limit > cap:
        raise ApiError(
            422,
            "invalid_request",
            "the request is invalid",
            details=[{"field": "limit", "message": f"must be at most {cap}"}],
        )
    page = await asyncio.to_thread(
        state.service.list_jobs,
        caller=caller,
        state=job_state,
        pipeline=pipeline,
        limit=limit,
        cursor=cursor,
        tenant=tenant,
    )
    return JobList(jobs=[job_view(j) for j in page.items], next_cursor=page.next_cursor)


@router.get("/{job_id}", response_model=JobOut)
async def get_job(job_id: str, state: State, caller: Reader) -> JobOut:
    """One job; 404 for another tenant's (as for one that does not exist)."""
    return job_view(await asyncio.to_thread(state.service.get, job_id, caller=caller))


@router.post("/{job_id}/cancel", status_code=202, response_model=JobOut)
async def cancel_job(job_id: str, state: State, caller: Submitter) -> JobOut:
    """Cancel a job; 409 when it already finished."""
    return job_view(await asyncio.to_thread(state.service.cancel, job_id, caller=caller))


@router.post("/{job_id}/retry", status_code=202, response_model=JobOut)
async def retry_job(job_id: str, state: State, caller: Submitter) -> JobOut:
    """Queue a failed or cancelled job again: a new attempt of the same job, under the same
    ``client_id``, with its own events; 409 when the job did not end failed or cancelled."""
    return job_view(await asyncio.to_thread(state.service.retry, job_id, caller=caller))


@router.get("/{job_id}/events", response_model=EventList)
async def job_events(job_id: str, state: State, caller: Reader) -> EventList:
    """The job's audit trail, oldest first: each row names its actor."""
    records = await asyncio.to_thread(state.service.events, job_id, caller=caller)
    attempts = event_attempts(records)
    return EventList(events=[event_view(r, a) for r, a in zip(records, attempts, strict=True)])


@router.get(
    "/{job_id}/logs",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
async def job_logs(
    job_id: str,
    state: State,
    caller: Reader,
    tail: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> PlainTextResponse:
    """The job's log as text; ``tail`` keeps only the last lines. Each read is an event row."""
    text = await asyncio.to_thread(state.service.log, job_id, tail, caller=caller)
    return PlainTextResponse(text)


@router.get("/{job_id}/outputs", response_model=OutputList)
async def job_outputs(job_id: str, state: State, caller: Reader) -> OutputList:
    """The files of the job's results (name, size, sha256), from its manifest."""
    entries = await asyncio.to_thread(state.service.outputs, job_id, caller=caller)
    return OutputList(outputs=[output_view(job_id, e) for e in entries])


@router.get(
    "/{job_id}/outputs/{name:path}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_output(
    job_id: str, name: str, state: State, caller: Reader
) -> StreamingResponse:
    """One output file, streamed. Each download is an event row."""
    try:
        name = safe_relative_path(name)
    except ValueError as exc:
        raise ApiError(
            400,
            "invalid_output_name",
            "invalid output name",
            details=[{"field": "name", "message": str(exc)}],
        ) from exc
    entry, chunks = await asyncio.to_thread(state.service.open_output, job_id, name, caller=caller)
    return output_download(entry, chunks)


def output_download(entry: OutputEntry, chunks: Iterator[bytes]) -> StreamingResponse:
    """An output's bytes as an attachment (never a page: a job's HTML is not rendered)."""
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(entry.size),
            "Content-Disposition": content_disposition(posixpath.basename(entry.name)),
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
