"""Server-sent events that keep pages live: the job list, one job, and a job's log.

Each stream looks at what its page shows (through the job service, as the signed-in caller)
when :class:`~vatti.dashboard.live.ChangeSignal` fires or ``live_poll_s`` passed, and sends
``changed`` when it differs (the page then fetches itself again and swaps its live part), or,
for a log, the text that was added. A stream ends when its session does (``signed-out``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from vatti.dashboard.routes_auth import SignedIn
from vatti.dashboard.search import find_jobs
from vatti.dashboard.session import signed_in_caller
from vatti.dashboard.state import DashboardState, dashboard_state
from vatti.domain.access import Caller
from vatti.domain.states import JobState

router = APIRouter(prefix="/live")
#: a comment line this often keeps proxies from closing an idle stream (seconds)
KEEPALIVE_S = 15.0


def sse(event: str, data: Any) -> bytes:
    """One server-sent event.

    >>> sse("changed", {"state": "running"})
    b'event: changed\\ndata: {"state": "running"}\\n\\n'
    """
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def event_stream(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def _ticks(request: Request, dash: DashboardState) -> AsyncIterator[Caller | None]:
    """The caller, each time something may have changed (None once signed out); stops when the
    client goes away."""
    idle = 0.0
    poll = dash.config.live_poll_s
    while not await request.is_disconnected():
        caller = await asyncio.to_thread(signed_in_caller, request)
        yield caller
        if caller is None:
            return
        woken = await dash.changes.wait(poll)
        idle = 0.0 if woken else idle + poll


async def _changes(
    request: Request, look: Callable[[Caller], Hashable], *, done: Callable[[Hashable], bool]
) -> AsyncIterator[bytes]:
    dash = dashboard_state(request)
    seen: Hashable = None
    first = True
    async for caller in _ticks(request, dash):
        if caller is None:
            yield sse("signed-out", {})
            return
        now = await asyncio.to_thread(look, caller)
        if first:
            first = False
            yield b": live\n\n"
        elif now != seen:
            yield sse("changed", {})
        seen = now
        if done(now):
            yield sse("end", {})
            return


@router.get("/jobs")
def live_jobs(
    request: Request,
    caller: SignedIn,
    state: Annotated[list[JobState] | None, Query()] = None,
    pipeline: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> StreamingResponse:
    del caller  # checked; each look takes the caller of that moment
    service = dashboard_state(request).api.service

    def look(who: Caller) -> Hashable:
        found = find_jobs(
            service, who, states=state, pipeline=pipeline or None, query=q or "", cursor=cursor
        )
        return tuple((j.id, j.state.value, j.updated_at) for j in found.jobs)

    return event_stream(_changes(request, look, done=lambda _: False))


@router.get("/jobs/{job_id}")
def live_job(request: Request, job_id: str, caller: SignedIn) -> StreamingResponse:
    service = dashboard_state(request).api.service
    job_id = service.get(job_id, caller=caller).id

    def look(who: Caller) -> Hashable:
        job = service.get(job_id, caller=who)
        return (job.state.value, job.updated_at, len(service.events(job_id, caller=who)))

    return event_stream(_changes(request, look, done=lambda _: False))


@router.get("/jobs/{job_id}/log")
def live_log(request: Request, job_id: str, caller: SignedIn) -> StreamingResponse:
    """The job's log as it grows: ``log`` events with the added text (``reset`` with the whole
    tail when it was replaced, e.g. by the saved log), ``state`` on each change, ``end``."""
    service = dashboard_state(request).api.service
    read = service.follow_log(job_id, caller=caller)

    async def body() -> AsyncIterator[bytes]:
        dash = dashboard_state(request)
        sent = ""
        state = ""
        async for who in _ticks(request, dash):
            if who is None:
                yield sse("signed-out", {})
                return
            job, text = await asyncio.to_thread(read)
            if job.state.value != state:
                state = job.state.value
                yield sse("state", {"state": state})
            text = text or ""
            if text.startswith(sent):
                if len(text) > len(sent):
                    yield sse("log", {"text": text[len(sent) :]})
            else:
                yield sse("log", {"reset": text})
            sent = text
            if job.terminal:
                yield sse("end", {})
                return
            if not text:
                yield b": waiting\n\n"

    return event_stream(body())
