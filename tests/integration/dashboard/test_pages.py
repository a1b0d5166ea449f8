"""The dashboard's pages: what each caller sees (tenants, scopes), search and filters, the
failure of a job, downloads that never render as pages, and the per-page CSP nonce."""

from __future__ import annotations

import re

import pytest
from tests.integration.api.conftest import command_body
from tests.integration.dashboard.conftest import Browser, Dash

from vatti.domain.access import OPERATOR_CALLER, Caller
from vatti.domain.failure import Failure
from vatti.domain.jobs import Job
from vatti.domain.scopes import parse_scopes
from vatti.domain.states import JobEvent
from vatti.domain.times import utcnow

pytestmark = pytest.mark.integration

LAB_A = Caller.token("a", "lab-a", parse_scopes("submit,read"))
LAB_B = Caller.token("b", "lab-b", parse_scopes("submit,read"))


def listed(html: str) -> set[str]:
    """The ids of the jobs a list page links to."""
    return set(re.findall(r'href="/dashboard/jobs/([0-9a-f-]{36})"', html))


def submit(dash: Dash, caller: Caller = OPERATOR_CALLER, **extra: object) -> Job:
    return dash.api.jobs.submit(command_body(**extra), caller=caller).job


def finish(dash: Dash, job: Job, event: JobEvent) -> Job:
    store = dash.api.store
    for step in (JobEvent.ADMIT, JobEvent.START, event):
        job = store.transition(job.id, step, now=utcnow()).job
    return job


async def test_a_tenant_sees_its_own_jobs_only(browser: Browser, dash: Dash) -> None:
    mine, theirs = submit(dash, LAB_A, client_id="a-1"), submit(dash, LAB_B, client_id="b-1")
    await browser.sign_in_as("lab-a")
    assert listed((await browser.get("/")).text) == {mine.id}
    assert (await browser.get(f"/jobs/{theirs.id}")).status_code == 404
    assert (await browser.get(f"/jobs/{theirs.id}/log")).status_code == 404
    assert listed((await browser.get(f"/?q={theirs.id}")).text) == set()
    assert listed((await browser.get("/?q=b-1")).text) == set()
    summary = (await browser.get("/summary")).text
    assert re.search(r"<span class=\"big\">1</span> jobs in all", summary)
    assert "outbox:" not in summary
    assert "shown to admins" in summary


async def test_admin_sees_every_tenant(browser: Browser, dash: Dash) -> None:
    a, b = submit(dash, LAB_A), submit(dash, LAB_B)
    await browser.sign_in_as("admin")
    assert listed((await browser.get("/")).text) == {a.id, b.id}
    assert "outbox: 0 waiting" in (await browser.get("/summary")).text


async def test_cancel_needs_a_scope_that_covers_the_job(browser: Browser, dash: Dash) -> None:
    job = submit(dash)
    await browser.sign_in_as("reader")
    page = await browser.get(f"/jobs/{job.id}")
    assert "Cancel job" not in page.text
    csrf = await browser.csrf(f"/jobs/{job.id}")
    resp = await browser.post(f"/jobs/{job.id}/cancel", {}, csrf=csrf)
    assert resp.status_code == 403
    assert "scope" in resp.text
    assert dash.api.jobs.get(job.id, caller=OPERATOR_CALLER).state.value == "queued"


async def test_search_by_id_client_id_and_label_and_filter_by_state(
    browser: Browser, dash: Dash
) -> None:
    one = submit(dash, client_id="sample-17", labels={"study": "ukb", "batch": "7"})
    two = submit(dash, client_id="other-2", labels={"study": "ega"})
    done = finish(dash, submit(dash, client_id="third"), JobEvent.SUCCEED)
    await browser.sign_in_as("admin")

    async def found(query: str) -> set[str]:
        return listed((await browser.get("/", params=query)).text)

    assert await found("q=sample-17") == {one.id}
    assert await found("q=sample") == {one.id}  # a prefix
    assert await found("q=study%3Dukb") == {one.id}
    assert await found("q=ega") == {two.id}
    assert await found(f"q={two.id}") == {two.id}
    assert await found(f"q={two.id[:13]}") == {two.id}
    assert await found("state=succeeded") == {done.id}
    assert await found("state=queued&q=study") == {one.id, two.id}
    assert await found("q=nothing-like-it") == set()


async def test_a_failed_job_shows_its_code_step_exit_code_and_message(
    browser: Browser, dash: Dash
) -> None:
    job = submit(dash)
    dash.api.store.set_failure(
        job.id,
        Failure("command_failed", "exit status 3 <script>x</script>", step="score", exit_code=3),
        now=utcnow(),
    )
    finish(dash, job, JobEvent.FAIL)
    await browser.sign_in_as("admin")
    page = (await browser.get(f"/jobs/{job.id}")).text
    assert "command_failed" in page
    assert "score" in page
    assert "<dd>3</dd>" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x" not in page
    for event in ("submit", "accept", "admit", "start", "fail"):
        assert f"<strong>{event}</strong>" in page


async def test_outputs_download_as_attachments_never_as_pages(browser: Browser, dash: Dash) -> None:
    job = finish(dash, submit(dash), JobEvent.SUCCEED)
    report = b"<html><script>alert(document.cookie)</script></html>"
    dash.api.outputs.add(job.id, {"report.html": report, "scores.tsv": b"a\t1\n"})
    await browser.sign_in_as("reader")
    page = (await browser.get(f"/jobs/{job.id}")).text
    assert f"/dashboard/jobs/{job.id}/outputs/report.html" in page
    resp = await browser.get(f"/jobs/{job.id}/outputs/report.html")
    assert resp.status_code == 200
    assert resp.content == report
    assert resp.headers["content-type"] == "application/octet-stream"
    assert resp.headers["content-disposition"] == 'attachment; filename="report.html"'
    assert resp.headers["content-security-policy"].startswith("sandbox")
    assert resp.headers["x-content-type-options"] == "nosniff"
    events = dash.api.jobs.events(job.id, caller=OPERATOR_CALLER)
    assert events[-1].event is JobEvent.DOWNLOAD_OUTPUT
    assert events[-1].actor.startswith("token:")


async def test_the_log_page_shows_the_tail(browser: Browser, dash: Dash) -> None:
    job = submit(dash)
    dash.api.logs.root.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"line {i}\n" for i in range(500))
    (dash.api.logs.root / f"{job.id}.log").write_text(lines + "<b>bold</b>\n")
    await browser.sign_in_as("reader")
    page = (await browser.get(f"/jobs/{job.id}/log")).text
    assert "line 499" in page
    assert "line 100\n" not in page
    assert "&lt;b&gt;bold" in page


PAGES = ("/", "/summary", "/sign-in")


@pytest.mark.parametrize("path", [*PAGES, "/jobs/{job}", "/jobs/{job}/log"])
async def test_each_page_allows_only_its_own_nonce(browser: Browser, dash: Dash, path: str) -> None:
    job = submit(dash)
    if path != "/sign-in":
        await browser.sign_in_as("admin")
    resp = await browser.get(path.format(job=job.id))
    assert resp.status_code == 200
    policy = resp.headers["content-security-policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy)
    assert nonce is not None
    assert "unsafe" not in policy
    assert "default-src 'none'" in policy
    assert f"style-src 'nonce-{nonce.group(1)}'" in policy
    html = resp.text
    tags = re.findall(r"<(?:script|link|style)\b[^>]*>", html)
    assert tags
    assert all(f'nonce="{nonce.group(1)}"' in t for t in tags)
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert " style=" not in html
    again = await browser.get(path.format(job=job.id))
    assert again.headers["content-security-policy"] != policy  # a nonce per response
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["cache-control"] == "no-store"


async def test_an_unknown_page_is_an_html_404(browser: Browser) -> None:
    await browser.sign_in_as("reader")
    resp = await browser.get("/no/such/page")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
