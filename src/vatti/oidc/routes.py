"""``GET /dashboard/login/oidc`` (to the provider) and ``GET /dashboard/oidc/callback`` (back),
a router the dashboard app includes (its paths are under the dashboard's mount).

The callback signs the user in (``sign_in(request, Caller.oidc(subject, tenant, scopes))``, the
dashboard's session) only when the state matches the pending sign-in's, the provider gives an
ID token for the code and the PKCE verifier, the token verifies, and its claims map to a tenant
and at least one scope. Anything else answers a page saying what went wrong (never a token or
a claim's value) with a link to sign in again, and leaves the user signed out.
"""

from __future__ import annotations

import html
import logging
import secrets
import time
from collections.abc import Callable
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vatti.dashboard.routes_auth import safe_next
from vatti.domain.access import Caller
from vatti.domain.claims import ClaimsRefused
from vatti.domain.scopes import format_scopes
from vatti.oidc.client import OidcClient, OidcError, ProviderUnavailable
from vatti.oidc.pending import COOKIE, PENDING_TTL_S, PendingSignIn
from vatti.secretbox import SecretBox

log = logging.getLogger("vatti.oidc")

#: the routes' paths under the dashboard's mount (``/dashboard``)
LOGIN_PATH: Final = "/login/oidc"
CALLBACK_PATH: Final = "/oidc/callback"
#: what a signed-in dashboard session is started with: the request and its caller
SignIn = Callable[[Request, Caller], None]


def refusal_page(request: Request, status: int, title: str, detail: str) -> Response:
    """A plain page saying why the sign-in did not happen (the dashboard renders its own)."""
    base = html.escape(request.scope.get("root_path", ""))
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · vatti</title></head><body><main>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p>"
        f'<p><a href="{base}/sign-in">Sign in again</a></p></main></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})


#: renders a refusal: the request, the status, a title and what went wrong
RefusalPage = Callable[[Request, int, str, str], Response]


def oidc_router(
    client: OidcClient,
    box: SecretBox,
    sign_in: SignIn,
    *,
    page: RefusalPage = refusal_page,
) -> APIRouter:
    """The two routes, for the dashboard's app (mounted: its mount is the ``root_path``).
    ``box`` seals the pending sign-in, ``sign_in`` starts the session, ``page`` renders a
    refusal."""
    router = APIRouter(include_in_schema=False)
    secure = client.config.secure_cookies
    cookie_path = client.config.cookie_path
    mapping = client.config.mapping

    def refused(request: Request, status: int, title: str, detail: str, reason: str) -> Response:
        log.warning("oidc.refused reason=%s", reason)
        answer = page(request, status, title, detail)
        answer.delete_cookie(COOKIE, path=cookie_path, secure=secure, httponly=True, samesite="lax")
        return answer

    @router.get(LOGIN_PATH)
    async def start_sign_in(request: Request, next: str | None = None) -> Response:
        try:
            authorization = await client.authorization()
        except ProviderUnavailable as exc:
            return refused(request, 502, "Sign-in unavailable", exc.message, exc.code)
        pending = PendingSignIn(
            authorization.state,
            authorization.nonce,
            authorization.code_verifier,
            time.time(),
            safe_next(request.scope.get("root_path", ""), next),
        )
        answer = RedirectResponse(authorization.url, status_code=303)
        answer.headers["cache-control"] = "no-store"
        answer.set_cookie(
            COOKIE,
            pending.seal(box),
            max_age=PENDING_TTL_S,
            path=cookie_path,
            secure=secure,
            httponly=True,
            samesite="lax",
        )
        return answer

    @router.get(CALLBACK_PATH)
    async def finish_sign_in(request: Request) -> Response:
        query = request.query_params
        pending = PendingSignIn.unseal(box, request.cookies.get(COOKIE))
        if pending is None:
            return refused(
                request,
                400,
                "Sign-in expired",
                "This sign-in was not started in this browser, or took longer than "
                f"{PENDING_TTL_S // 60} minutes.",
                "no_pending_sign_in",
            )
        state = query.get("state", "")
        if not secrets.compare_digest(state.encode(), pending.state.encode()):
            return refused(
                request,
                400,
                "Sign-in refused",
                "The answer from the identity provider does not belong to this sign-in "
                "(its state differs).",
                "state_mismatch",
            )
        error = query.get("error")
        if error is not None:
            shown = error if error.isidentifier() else "an error"
            return refused(
                request,
                403,
                "Sign-in refused",
                f"The identity provider did not sign you in ({shown}).",
                "provider_error",
            )
        code = query.get("code")
        if not code:
            return refused(
                request, 400, "Sign-in refused", "The provider's answer has no code.", "no_code"
            )
        try:
            id_token = await client.exchange(code, code_verifier=pending.code_verifier)
            identity = await client.verify(id_token, nonce=pending.nonce)
        except ProviderUnavailable as exc:
            return refused(request, 502, "Sign-in unavailable", exc.message, exc.code)
        except OidcError as exc:
            return refused(request, 400, "Sign-in refused", exc.message, exc.code)
        try:
            tenant, scopes = mapping.resolve(identity.claims)
        except ClaimsRefused as exc:
            log.warning("oidc.no_access subject=%s: %s", identity.subject, exc)
            return refused(
                request,
                403,
                "No access to vatti",
                f"You signed in at the identity provider, but your account has no vatti "
                f"access: {exc}. Ask the operator to map one of your "
                f"{mapping.scopes_claim} to a vatti scope.",
                "unmapped",
            )
        caller = Caller.oidc(identity.subject, tenant, scopes)
        if not caller.may_read():  # what the dashboard shows is jobs to read
            return refused(
                request,
                403,
                "No access to the dashboard",
                f"Your vatti scopes ({format_scopes(scopes)}) do not let you read jobs: the "
                "dashboard needs the read or admin scope.",
                "no_read_scope",
            )
        sign_in(request, caller)
        log.info(
            "oidc.signed_in actor=%s tenant=%s scopes=%s",
            caller.actor,
            tenant,
            format_scopes(scopes),
        )
        answer = RedirectResponse(pending.next, status_code=303)
        answer.headers["cache-control"] = "no-store"
        answer.delete_cookie(COOKIE, path=cookie_path, secure=secure, httponly=True, samesite="lax")
        return answer

    return router
