"""The job pages: the list (filters, search), one job (timeline, failure, outputs, cancel), its
log, and output downloads. Every read is the job service's, as the signed-in caller.

Handlers are plain functions: FastAPI runs them in its thread pool, as the job service is
synchronous.
"""

from __future__ import annotations

import posixpath
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from vatti.api.routes_jobs import content_disposition
from vatti.dashboard.errors import DashboardError
from vatti.dashboard.routes_auth import Csrf, SignedIn
from vatti.dashboard.search import find_jobs
from vatti.dashboard.state import dashboard_state
from vatti.dashboard.views import STATE_ORDER, failure_of, job_row, span
from vatti.domain.access import Caller
from vatti.domain.jobs import Job, event_attempts
from vatti.domain.requests import PIPELINE_PATTERN
from vatti.domain.states import JobState
from vatti.domain.times import utcnow
from vatti.pipelines.paths import safe_relative_path
from vatti.service.errors import LogNotFound, ResultsNotFound

router = APIRouter()
LOG_TAIL_LINES = 200


def may_cancel(caller: Caller, job: Job) -> bool:
    return not job.terminal and caller.may_act_on(job.pipeline, job.spec.get("params"))


@router.get("/")
def job_list(
    request: Request,
    caller: SignedIn,
    state: Annotated[list[JobState] | None, Query()] = None,
    pipeline: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response:
    dash = dashboard_state(request)
    service = dash.api.service
    if pipeline is not None and (not pipeline.strip() or not _pipeline_ok(pipeline)):
        pipeline = None
    found = find_jobs(
        service, caller, states=state, pipeline=pipeline, query=q or "", cursor=cursor
    )
    now = utcnow()
    return dash.pages.render(
        request,
        "jobs.html",
        caller=caller,
        active="jobs",
        title="Jobs",
        rows=[job_row(j, now) for j in found.jobs],
        next_cursor=found.next_cursor,
        scanned_all=found.complete,
        states=STATE_ORDER,
        chosen_states={s.value for s in state or ()},
        pipelines=sorted(service.registry.names()),
        pipeline=pipeline or "",
        q=q or "",
        query_string=request.url.query,
    )


def _pipeline_ok(name: str) -> bool:
    return re.fullmatch(PIPELINE_PATTERN, name) is not None


@router.get("/jobs/{job_id}")
def job_detail(request: Request, job_id: str, caller: SignedIn) -> Response:
    dash = dashboard_state(request)
    service = dash.api.service
    job = service.get(job_id, caller=caller)
    records = service.events(job.id, caller=caller)
    attempts = event_attempts(records)
    outputs = None
    if job.state is JobState.SUCCEEDED:
        try:
            outputs = service.outputs(job.id, caller=caller)
        except ResultsNotFound:
            outputs = None
    now = utcnow()
    return dash.pages.render(
        request,
        "job.html",
        caller=caller,
        active="jobs",
        title=f"Job {job.id}",
        job=job_row(job, now),
        failure=failure_of(job),
        events=[
            {
                "seq": r.seq,
                "attempt": a,
                "event": r.event.value,
                "from_state": r.from_state.value if r.from_state else None,
                "to_state": r.to_state.value,
                "at": r.at.isoformat(timespec="seconds"),
                "actor": r.actor or "",
            }
            for r, a in zip(records, attempts, strict=True)
        ],
        outputs=[{"name": o.name, "size": o.size, "sha256": o.sha256} for o in outputs or ()],
        results_expire=(
            job.results_expire_at.isoformat(timespec="seconds") if job.results_expire_at else None
        ),
        expires_in=(
            span((job.results_expire_at - now).total_seconds()) if job.results_expire_at else None
        ),
        can_cancel=may_cancel(caller, job),
    )


@router.post("/jobs/{job_id}/cancel", dependencies=[Csrf])
def cancel(request: Request, job_id: str, caller: SignedIn) -> Response:
    service = dashboard_state(request).api.service
    job = service.cancel(job_id, caller=caller)
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}/log")
def job_log(request: Request, job_id: str, caller: SignedIn) -> Response:
    dash = dashboard_state(request)
    service = dash.api.service
    job = service.get(job_id, caller=caller)
    try:
        text: str | None = service.log(job.id, LOG_TAIL_LINES, caller=caller)
    except LogNotFound:  # none yet: the live view fills it in
        text = None
    return dash.pages.render(
        request,
        "log.html",
        caller=caller,
        active="jobs",
        title=f"Log of job {job.id}",
        job=job_row(job, utcnow()),
        log=text,
        tail=LOG_TAIL_LINES,
    )


@router.get("/jobs/{job_id}/outputs/{name:path}")
def download(request: Request, job_id: str, name: str, caller: SignedIn) -> Response:
    """An output, always as an attachment: a job's HTML (a ``report.html``) is never shown as a
    page of the dashboard's origin, and its CSP (``sandbox``) holds if a browser shows it anyway."""
    try:
        name = safe_relative_path(name)
    except ValueError as exc:
        raise DashboardError(400, f"invalid output name: {exc}") from exc
    service = dashboard_state(request).api.service
    entry, chunks = service.open_output(job_id, name, caller=caller)
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={
            "content-length": str(entry.size),
            "content-disposition": content_disposition(posixpath.basename(name)),
            "content-security-policy": "sandbox; default-src 'none'",
            "x-checksum-sha256": entry.sha256,
        },
    )
