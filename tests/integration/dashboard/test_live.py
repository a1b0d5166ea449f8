"""Live pages over a real server: the server-sent events a page listens to arrive when a job
changes, a running job's log streams as it grows, and a stream ends with its session."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from tests.integration.api.conftest import TOKENS, command_body
from tests.integration.dashboard.conftest import BASE, Dash

from vatti.domain.access import OPERATOR_CALLER
from vatti.domain.states import JobEvent
from vatti.domain.times import utcnow

pytestmark = pytest.mark.integration
TIMEOUT_S = 20.0


@pytest.fixture
def served(dash: Dash) -> Iterator[str]:
    url = dash.api.serve()
    try:
        yield url
    finally:
        dash.api.stop_servers()


@contextlib.contextmanager
def signed_in(url: str, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url + BASE, timeout=TIMEOUT_S) as http:
        page = http.get("/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        resp = http.post("/sign-in", data={"csrf": csrf.group(1), "token": token})
        assert resp.status_code == 303
        yield http


def events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, object]]]:
    """(event, data) of a server-sent event stream (comments skipped)."""
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))


def test_a_job_page_hears_of_its_change(dash: Dash, served: str) -> None:
    job = dash.api.jobs.submit(command_body(), caller=OPERATOR_CALLER).job
    with (
        signed_in(served, TOKENS["admin"]) as http,
        http.stream("GET", f"/live/jobs/{job.id}") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == ": live"  # the stream has looked once: now change the job
        threading.Thread(
            target=dash.api.jobs.cancel, args=(job.id,), kwargs={"caller": OPERATOR_CALLER}
        ).start()
        assert next(events(lines))[0] == "changed"


def test_the_job_list_hears_of_a_new_job(dash: Dash, served: str) -> None:
    with (
        signed_in(served, TOKENS["reader"]) as http,
        http.stream("GET", "/live/jobs") as stream,
    ):
        lines = stream.iter_lines()
        assert next(lines) == ": live"
        dash.api.jobs.submit(command_body(), caller=OPERATOR_CALLER)
        assert next(events(lines))[0] == "changed"


def test_a_log_streams_as_it_grows_and_ends_with_the_job(dash: Dash, served: str) -> None:
    job = dash.api.jobs.submit(command_body(), caller=OPERATOR_CALLER).job
    store = dash.api.store
    for step in (JobEvent.ADMIT, JobEvent.START):
        store.transition(job.id, step, now=utcnow())
    log = dash.api.logs.root / f"{job.id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("first\n")
    with (
        signed_in(served, TOKENS["reader"]) as http,
        http.stream("GET", f"/live/jobs/{job.id}/log") as stream,
    ):
        seen = events(stream.iter_lines())
        assert next(seen) == ("state", {"state": "running"})
        assert next(seen) == ("log", {"text": "first\n"})
        with log.open("a") as fh:
            fh.write("second\n")
        assert next(seen) == ("log", {"text": "second\n"})
        store.transition(job.id, JobEvent.SUCCEED, now=utcnow())
        assert next(seen) == ("state", {"state": "succeeded"})
        assert next(seen) == ("end", {})
    follows = [
        e
        for e in dash.api.jobs.events(job.id, caller=OPERATOR_CALLER)
        if e.event is JobEvent.DOWNLOAD_LOG
    ]
    assert len(follows) == 1  # following a log is one audit row, however long it streams


def test_a_stream_ends_when_its_token_is_revoked(dash: Dash, served: str) -> None:
    token_id, token = dash.stored_token(scopes="read")
    with signed_in(served, token) as http, http.stream("GET", "/live/jobs") as stream:
        lines = stream.iter_lines()
        assert next(lines) == ": live"
        dash.tokens.revoke(token_id, utcnow())
        assert next(events(lines))[0] == "signed-out"


def test_a_stream_needs_a_session(served: str) -> None:
    resp = httpx.get(f"{served}{BASE}/live/jobs", timeout=TIMEOUT_S)
    assert resp.status_code == 303
