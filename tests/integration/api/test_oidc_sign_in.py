"""OpenID Connect sign-in against the provider stand-in on loopback, redirects followed by hand.

The browser is an httpx client on the app (its cookie jar is the browser's); the provider is a
real HTTP server, and the app talks to it over HTTP as it would to Keycloak or Dex.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from tests.integration.api.conftest import Api, auth, command_body

from vatti.api.app import create_app
from vatti.dashboard import session
from vatti.dashboard.config import DashboardConfig, SignInOption
from vatti.domain.access import Caller
from vatti.domain.claims import ClaimMapping
from vatti.domain.scopes import parse_scopes
from vatti.oidc.client import OidcClient, OidcConfig
from vatti.oidc.pending import COOKIE
from vatti.oidc.routes import CALLBACK_PATH, LOGIN_PATH, oidc_router
from vatti.oidc.wiring import LINK_LABEL, refusal_in_dashboard
from vatti.secretbox import SecretBox, new_key
from vatti.testing.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider

pytestmark = pytest.mark.integration

BASE = "http://127.0.0.1:8000"
REDIRECT = BASE + "/dashboard" + CALLBACK_PATH
MAPPING = "vatti-admins=admin; lab-a=read,submit:pgs"


@pytest.fixture(scope="session")
def provider() -> Iterator[OidcProvider]:
    started = OidcProvider(redirect_uris=(REDIRECT,)).start()
    yield started
    started.stop()


@pytest.fixture
def idp(provider: OidcProvider) -> OidcProvider:
    provider.reset()
    return provider


def config(issuer: str, scope_map: str = MAPPING) -> OidcConfig:
    return OidcConfig(
        issuer=issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_url=REDIRECT,
        scopes="openid profile groups",
        mapping=ClaimMapping.parse("groups", scope_map, tenant_claim="tenant"),
    )


class Sessions:
    """Who the app signed in (what the dashboard's session module would keep)."""

    def __init__(self) -> None:
        self.signed_in: list[Caller] = []

    def sign_in(self, _request: Request, caller: Caller) -> None:
        self.signed_in.append(caller)


@pytest.fixture
def sessions() -> Sessions:
    return Sessions()


def make_app(issuer: str, sessions: Sessions, *, scope_map: str = MAPPING) -> FastAPI:
    """The routes in an app mounted at /dashboard, as the dashboard's app is."""
    client = OidcClient(config(issuer, scope_map))
    dashboard = FastAPI()
    dashboard.include_router(oidc_router(client, SecretBox([new_key()]), sessions.sign_in))
    app = FastAPI()
    app.mount("/dashboard", dashboard)
    return app


@pytest.fixture
async def app(idp: OidcProvider, sessions: Sessions) -> FastAPI:
    return make_app(idp.issuer, sessions)


def browser_on(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_on(app) as client:
        yield client


async def to_provider_and_back(browser: httpx.AsyncClient, next: str | None = None) -> str:
    """Start a sign-in and let the provider sign its user in: the callback URL it sends back."""
    start = await browser.get("/dashboard" + LOGIN_PATH, params={"next": next} if next else None)
    assert start.status_code == 303, start.text
    assert COOKIE in browser.cookies
    async with httpx.AsyncClient() as at_provider:
        authorize = await at_provider.get(start.headers["location"])
    assert authorize.status_code == 302, authorize.text
    back = authorize.headers["location"]
    assert back.startswith(REDIRECT + "?")
    return back


async def sign_in(browser: httpx.AsyncClient, next: str | None = None) -> httpx.Response:
    return await browser.get(await to_provider_and_back(browser, next))


def page(answer: httpx.Response) -> str:
    return html.unescape(answer.text)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


async def test_a_mapped_user_is_signed_in_with_the_scopes_and_tenant_of_their_claims(
    idp: OidcProvider, browser: httpx.AsyncClient, sessions: Sessions
) -> None:
    idp.state.user = {"sub": "ada-7f3", "groups": ["lab-a", "staff"], "tenant": "lab-a"}
    answer = await sign_in(browser)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/"
    assert sessions.signed_in == [Caller.oidc("ada-7f3", "lab-a", parse_scopes("read,submit:pgs"))]
    assert sessions.signed_in[0].actor == "oidc:ada-7f3"
    assert COOKIE not in browser.cookies  # the pending sign-in is spent
    assert idp.state.token_errors == []


@pytest.mark.parametrize(
    ("asked", "went"),
    [
        ("/dashboard/jobs/j-1", "/dashboard/jobs/j-1"),
        ("https://evil.example/dashboard/", "/dashboard/"),
        ("//evil.example", "/dashboard/"),
    ],
)
async def test_a_sign_in_goes_on_to_the_dashboard_page_asked_for_and_only_there(
    asked: str, went: str, idp: OidcProvider, browser: httpx.AsyncClient
) -> None:
    idp.state.user = {"sub": "ada", "groups": ["lab-a"]}
    answer = await sign_in(browser, next=asked)
    assert answer.headers["location"] == went


async def test_the_authorization_request_carries_pkce_s256_state_and_nonce(
    browser: httpx.AsyncClient,
) -> None:
    start = await browser.get("/dashboard" + LOGIN_PATH)
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert len(query["state"][0]) >= 32
    assert len(query["nonce"][0]) >= 32
    assert query["redirect_uri"] == [REDIRECT]
    assert query["client_id"] == [CLIENT_ID]
    cookie = start.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=lax", "path=/dashboard/oidc/"):
        assert attribute in cookie
    # the verifier, state and nonce are sealed, not readable in the cookie
    assert query["state"][0] not in start.headers["set-cookie"]


async def test_a_provider_that_rotated_its_keys_is_followed(
    idp: OidcProvider, browser: httpx.AsyncClient, sessions: Sessions
) -> None:
    idp.state.user = {"sub": "ada", "groups": ["lab-a"]}
    assert (await sign_in(browser)).status_code == 303  # the JWKS is read and kept
    idp.rotate_key()
    assert (await sign_in(browser)).status_code == 303  # a new key id: the JWKS is read again
    assert [c.actor for c in sessions.signed_in] == ["oidc:ada", "oidc:ada"]


async def test_a_user_without_a_mapped_claim_value_is_refused_with_a_page_saying_why(
    idp: OidcProvider, browser: httpx.AsyncClient, sessions: Sessions
) -> None:
    idp.state.user = {"sub": "bob", "groups": ["staff"]}
    answer = await sign_in(browser)
    assert answer.status_code == 403
    assert "No access to vatti" in page(answer)
    assert "groups" in page(answer)
    assert sessions.signed_in == []


async def test_a_user_whose_scopes_do_not_read_jobs_is_refused_the_dashboard(
    idp: OidcProvider, sessions: Sessions
) -> None:
    only_submit = make_app(idp.issuer, sessions, scope_map="robots=submit")
    idp.state.user = {"sub": "bot", "groups": ["robots"]}
    async with browser_on(only_submit) as browser:
        answer = await sign_in(browser)
    assert answer.status_code == 403
    assert "read or admin scope" in page(answer)
    assert sessions.signed_in == []


@pytest.mark.parametrize(
    ("user", "status", "said"),
    [
        # a subject that would forge a log line (it names the user in events and logs)
        ({"sub": "ada\noidc.signed_in actor=oidc:root", "groups": ["lab-a"]}, 400, "subject"),
        ({"sub": "eve", "groups": ["lab-a"], "tenant": "../lab-b"}, 403, "'tenant' claim"),
    ],
    ids=["subject-with-a-newline", "tenant-no-tenant-name"],
)
async def test_claims_vatti_cannot_name_a_caller_with_are_refused(
    user: dict[str, object],
    status: int,
    said: str,
    idp: OidcProvider,
    browser: httpx.AsyncClient,
    sessions: Sessions,
) -> None:
    idp.state.user = user
    answer = await sign_in(browser)
    assert answer.status_code == status
    assert said in page(answer)
    assert sessions.signed_in == []


async def test_a_callback_with_another_state_is_refused_before_the_code_is_used(
    idp: OidcProvider, browser: httpx.AsyncClient, sessions: Sessions
) -> None:
    back = await to_provider_and_back(browser)
    answer = await browser.get(with_query(back, state="forged-state"))
    assert answer.status_code == 400
    assert "state" in page(answer)
    assert sessions.signed_in == []
    assert len(idp.state.grants) == 1  # the code was never sent to the token endpoint


async def test_a_callback_is_used_once(
    browser: httpx.AsyncClient, sessions: Sessions, idp: OidcProvider
) -> None:
    idp.state.user = {"sub": "ada", "groups": ["lab-a"]}
    back = await to_provider_and_back(browser)
    assert (await browser.get(back)).status_code == 303
    replayed = await browser.get(back)
    assert replayed.status_code == 400
    assert len(sessions.signed_in) == 1


async def test_a_callback_in_a_browser_that_did_not_start_the_sign_in_is_refused(
    app: FastAPI, browser: httpx.AsyncClient, sessions: Sessions, idp: OidcProvider
) -> None:
    idp.state.user = {"sub": "ada", "groups": ["lab-a"]}
    back = await to_provider_and_back(browser)
    async with browser_on(app) as other:
        answer = await other.get(back)
    assert answer.status_code == 400
    assert "expired" in page(answer)
    assert sessions.signed_in == []


async def test_a_code_from_another_sign_in_fails_the_pkce_check(
    app: FastAPI, browser: httpx.AsyncClient, sessions: Sessions, idp: OidcProvider
) -> None:
    """An attacker's code, injected into the victim's callback with the victim's own state,
    is refused by the provider: the victim's verifier is not the one its challenge was for."""
    idp.state.user = {"sub": "mallory", "groups": ["vatti-admins"]}
    victims = await to_provider_and_back(browser)
    async with browser_on(app) as attacker:
        attackers = await to_provider_and_back(attacker)
    injected = with_query(victims, code=parse_qs(urlsplit(attackers).query)["code"][0])
    answer = await browser.get(injected)
    assert answer.status_code == 400
    assert "refused the sign-in's code (invalid_grant)" in page(answer)
    assert idp.state.token_errors == ["invalid_grant"]
    assert sessions.signed_in == []


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ({"nonce": "another-sign-ins-nonce"}, "nonce"),
        ({"lifetime_s": -600}, "expired"),
        ({"foreign_key": True}, "signature"),
        ({"audience": "another-client"}, "audience"),
        ({"issuer": "http://127.0.0.1:9/other-issuer"}, "issuer"),
    ],
    ids=["wrong-nonce", "expired", "bad-signature", "wrong-audience", "wrong-issuer"],
)
async def test_an_id_token_that_does_not_verify_signs_no_one_in(
    fault: dict[str, object],
    said: str,
    idp: OidcProvider,
    browser: httpx.AsyncClient,
    sessions: Sessions,
) -> None:
    idp.state.user = {"sub": "ada", "groups": ["vatti-admins"]}
    for name, value in fault.items():
        setattr(idp.state, name, value)
    answer = await sign_in(browser)
    assert answer.status_code == 400
    assert said in page(answer)
    assert "eyJ" not in page(answer)  # no token in the page
    assert sessions.signed_in == []


async def test_a_provider_that_refuses_the_user_shows_its_error(
    browser: httpx.AsyncClient, sessions: Sessions
) -> None:
    back = await to_provider_and_back(browser)
    answer = await browser.get(with_query(back, error="access_denied", code=""))
    assert answer.status_code == 403
    assert "access_denied" in page(answer)
    assert sessions.signed_in == []


async def test_an_unreachable_provider_answers_a_page_not_a_crash(sessions: Sessions) -> None:
    app = make_app("http://127.0.0.1:9", sessions)  # the discard port: nothing listens
    async with browser_on(app) as browser:
        answer = await browser.get("/dashboard" + LOGIN_PATH)
    assert answer.status_code == 502
    assert "Sign-in unavailable" in page(answer)


# -- signed in through the real dashboard ----------------------------------------------------


def dashboard_with_oidc(api: Api, issuer: str) -> FastAPI:
    """The service's app (API and dashboard) with the OpenID Connect sign-in, as ``vatti serve``
    wires it: the dashboard's own session and refusal pages."""
    router = oidc_router(
        OidcClient(config(issuer)),
        SecretBox([new_key()]),
        session.sign_in,
        page=refusal_in_dashboard,
    )
    option = SignInOption(LINK_LABEL, LOGIN_PATH)
    dashboard = DashboardConfig(session_key="k" * 32, routers=(router,), sign_in_options=(option,))
    return create_app(api.jobs, api.config, dashboard=dashboard)


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def test_a_cancel_from_the_dashboard_names_the_oidc_subject_as_its_actor(
    api: Api, idp: OidcProvider
) -> None:
    app = dashboard_with_oidc(api, idp.issuer)
    async with browser_on(app) as browser:
        created = await browser.post("/api/v1/jobs", json=command_body(), headers=auth("submitter"))
        job = created.json()["id"]
        sign_in_page = await browser.get("/dashboard/sign-in")
        assert f'href="/dashboard{LOGIN_PATH}?next=' in sign_in_page.text  # the link to it

        idp.state.user = {"sub": "ada-7f3", "groups": ["lab-a"]}  # read, submit:pgs
        signed_in = await sign_in(browser, next=f"/dashboard/jobs/{job}")
        assert signed_in.headers["location"] == f"/dashboard/jobs/{job}"
        detail = await browser.get(f"/dashboard/jobs/{job}")
        assert detail.status_code == 200
        # submit:pgs could not have submitted a command job: no cancel form
        assert f"/jobs/{job}/cancel" not in detail.text

        idp.state.user = {"sub": "grace-01", "groups": ["vatti-admins"]}
        await sign_in(browser)
        detail = await browser.get(f"/dashboard/jobs/{job}")
        token = CSRF.search(detail.text)
        assert token is not None
        cancelled = await browser.post(
            f"/dashboard/jobs/{job}/cancel", data={"csrf": token.group(1)}
        )
        assert cancelled.status_code == 303, cancelled.text
        events = await browser.get(f"/api/v1/jobs/{job}/events", headers=auth("admin"))
    trail = [(e["event"], e["actor"]) for e in events.json()["events"]]
    assert ("cancel", "oidc:grace-01") in trail
    assert [a for _, a in trail if a.startswith("oidc:")] == ["oidc:grace-01"]


async def test_a_refusal_is_a_dashboard_page(api: Api, idp: OidcProvider) -> None:
    app = dashboard_with_oidc(api, idp.issuer)
    idp.state.user = {"sub": "bob", "groups": ["staff"]}
    async with browser_on(app) as browser:
        answer = await sign_in(browser)
        assert answer.status_code == 403
        assert "No access to vatti" in page(answer)
        assert "nonce-" in answer.headers["content-security-policy"]  # the dashboard's page
        assert (await browser.get("/dashboard/")).status_code == 303  # still signed out
