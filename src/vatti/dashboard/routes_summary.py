"""The summary page: jobs by state, queue depth, throughput and failures over the last day,
the engine and executor, the outbox backlog (admin)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from vatti.dashboard.routes_auth import SignedIn
from vatti.dashboard.state import dashboard_state
from vatti.dashboard.throughput import HOURS, finished_recently, hourly
from vatti.dashboard.views import STATE_ORDER
from vatti.domain.states import JobState
from vatti.domain.times import utcnow

router = APIRouter()


@router.get("/summary")
def summary(request: Request, caller: SignedIn) -> Response:
    dash = dashboard_state(request)
    service = dash.api.service
    now = utcnow()
    counts = service.count_by_state(caller=caller)
    since = now - timedelta(hours=HOURS)
    ended, complete = finished_recently(service, caller, since)
    health = dash.config.health() if dash.config.health is not None and caller.admin else None
    engine = dash.api.engine_alive
    return dash.pages.render(
        request,
        "summary.html",
        caller=caller,
        active="summary",
        title="Summary",
        counts=[(s, counts.get(JobState(s), 0)) for s in STATE_ORDER],
        total=sum(counts.values()),
        queue_depth=counts.get(JobState.QUEUED, 0) + counts.get(JobState.REQUESTED, 0),
        running=counts.get(JobState.RUNNING, 0) + counts.get(JobState.PROVISIONING, 0),
        hours=hourly(ended, now),
        complete=complete,
        engine_here=None if engine is None else engine(),
        health=health,
    )
