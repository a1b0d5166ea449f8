"""Signing in to the dashboard with an API token: the cookie, CSRF on every form, and a token
session that ends when its token is revoked or expires."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from tests.integration.api.conftest import TOKENS, command_body
from tests.integration.dashboard.conftest import Browser, Dash

from vatti.api import create_app
from vatti.dashboard.config import DashboardConfig, SignInOption
from vatti.domain.access import OPERATOR_CALLER
from vatti.domain.times import utcnow
from vatti.store.schema import api_tokens
from vatti.tokens import hash_token

pytestmark = pytest.mark.integration


def session_data(cookie: str) -> dict[str, object]:
    """What a session cookie holds (signed, not encrypted: it must hold nothing secret)."""
    payload = cookie.split(".", 1)[0]
    decoded: dict[str, object] = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


async def test_a_page_asks_to_sign_in_first_and_comes_back_after(browser: Browser) -> None:
    resp = await browser.get("/summary")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/dashboard/sign-in?next=/dashboard/summary"
    csrf = await browser.csrf("/sign-in?next=/dashboard/summary")
    resp = await browser.post(
        "/sign-in", {"token": TOKENS["reader"], "next": "/dashboard/summary"}, csrf=csrf
    )
    assert (resp.status_code, resp.headers["location"]) == (303, "/dashboard/summary")
    assert (await browser.get("/summary")).status_code == 200


async def test_sign_in_never_sends_anyone_to_another_site(browser: Browser) -> None:
    csrf = await browser.csrf()
    for target in ("https://evil.example/", "//evil.example/dashboard/", "/elsewhere"):
        resp = await browser.post(
            "/sign-in", {"token": TOKENS["reader"], "next": target}, csrf=csrf
        )
        assert resp.headers["location"] == "/dashboard/", target
        csrf = await browser.csrf("/")  # signed in now: the job list's forms carry it


async def test_the_cookie_is_httponly_lax_scoped_and_holds_no_token(browser: Browser) -> None:
    resp = await browser.sign_in(TOKENS["admin"])
    cookie = resp.headers["set-cookie"]
    flags = [f.strip().lower() for f in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/dashboard" in flags
    assert "secure" not in flags  # plain HTTP here; over TLS the cookie is Secure
    data = session_data(browser.http.cookies["vatti_session"])
    held = json.dumps(data)
    assert TOKENS["admin"] not in held
    assert hash_token(TOKENS["admin"]) not in held
    assert data["scopes"] == "admin"
    assert data["actor"].startswith("token:cfg-")


async def test_signing_in_starts_a_new_session(browser: Browser) -> None:
    before = await browser.csrf()
    old = session_data(browser.http.cookies["vatti_session"])
    await browser.sign_in_as("reader")
    new = session_data(browser.http.cookies["vatti_session"])
    assert new["csrf"] != before
    assert new["sid"]
    assert "sid" not in old
    # the pre-sign-in token no longer passes
    assert (await browser.post("/sign-out", {}, csrf=before)).status_code == 403
    assert (await browser.get("/")).status_code == 200


async def test_every_form_needs_the_sessions_csrf_token(browser: Browser, dash: Dash) -> None:
    assert (
        await browser.post("/sign-in", {"token": TOKENS["admin"]}, csrf=None)
    ).status_code == 403
    assert (
        await browser.post("/sign-in", {"token": TOKENS["admin"]}, csrf="forged")
    ).status_code == 403
    assert (await browser.get("/")).status_code == 303  # not signed in by either
    await browser.sign_in_as("admin")
    job = dash.api.jobs.submit(command_body(), caller=OPERATOR_CALLER).job
    assert (await browser.post(f"/jobs/{job.id}/cancel", {}, csrf=None)).status_code == 403
    assert (await browser.post(f"/jobs/{job.id}/cancel", {}, csrf="x" * 43)).status_code == 403
    assert dash.api.jobs.get(job.id, caller=OPERATOR_CALLER).state.value == "queued"
    assert (await browser.post("/sign-out", {}, csrf=None)).status_code == 403
    assert (await browser.get("/")).status_code == 200  # still signed in
    csrf = await browser.csrf(f"/jobs/{job.id}")
    assert (await browser.post(f"/jobs/{job.id}/cancel", {}, csrf=csrf)).status_code == 303
    assert dash.api.jobs.get(job.id, caller=OPERATOR_CALLER).state.value == "cancelled"
    assert (await browser.post("/sign-out", {}, csrf=csrf)).status_code == 303
    assert (await browser.get("/")).status_code == 303


async def test_an_unknown_token_is_refused(browser: Browser) -> None:
    resp = await browser.sign_in("not-a-token")
    assert resp.status_code == 401
    assert "unknown, revoked or expired" in resp.text
    assert "not-a-token" not in resp.text
    assert (await browser.get("/")).status_code == 303


async def test_a_revoked_token_ends_its_session(browser: Browser, dash: Dash) -> None:
    token_id, token = dash.stored_token(scopes="read")
    assert (await browser.sign_in(token)).status_code == 303
    assert (await browser.get("/")).status_code == 200
    dash.tokens.revoke(token_id, utcnow())
    resp = await browser.get("/")
    assert resp.status_code == 303
    assert "/sign-in" in resp.headers["location"]
    assert (await browser.sign_in(token)).status_code == 401


async def test_an_expired_token_ends_its_session(browser: Browser, dash: Dash) -> None:
    token_id, token = dash.stored_token(scopes="read")
    assert (await browser.sign_in(token)).status_code == 303
    with dash.tokens.engine.begin() as conn:
        conn.execute(
            sa.update(api_tokens)
            .where(api_tokens.c.id == token_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await browser.get("/")).status_code == 303


async def test_a_session_takes_its_tokens_tenant_and_scopes(browser: Browser, dash: Dash) -> None:
    _, token = dash.stored_token(tenant="lab-z", scopes="read")
    await browser.sign_in(token)
    page = await browser.get("/")
    assert "lab-z" in page.text
    assert "admin" not in page.text.split("<main", 1)[0]


async def test_a_token_that_cannot_read_cannot_sign_in(browser: Browser) -> None:
    resp = await browser.sign_in(TOKENS["submitter"])  # submit only
    assert resp.status_code == 401
    assert "read or admin scope" in resp.text


async def test_over_tls_the_cookie_is_secure_and_other_sign_ins_are_offered(dash: Dash) -> None:
    app = create_app(
        dash.api.jobs,
        replace(dash.api.config, tls=True),
        dashboard=DashboardConfig(sign_in_options=(SignInOption("Sign in with Example ID", "/x"),)),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://dash.test") as http:
        page = await http.get("/dashboard/sign-in")
        assert 'href="/dashboard/x?next=' in page.text
        assert "Sign in with Example ID</a>" in page.text
        flags = [f.strip().lower() for f in page.headers["set-cookie"].split(";")]
        assert "secure" in flags
        assert page.headers["strict-transport-security"].startswith("max-age=")


async def test_served_without_authentication_no_sign_in_is_needed(dash: Dash) -> None:
    app = create_app(dash.api.jobs, replace(dash.api.config, auth_disabled=True))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        page = await http.get("/dashboard/")
        assert page.status_code == 200
        assert "admin" in page.text.split("<main", 1)[0]
