"""Dashboard sessions: who is signed in, in a signed cookie, and the CSRF token of its forms.

The session lives in Starlette's ``SessionMiddleware`` cookie (``vatti_session``: signed with a
key derived from the service key, HttpOnly, SameSite=Lax, Secure over TLS). It holds the
caller's tenant, scopes and actor, when it was made and when it expires, a random session id and
the CSRF token; never a token, nor a token's digest. On every request the caller is checked
again: a token session (actor ``token:<id>``) ends as soon as its token is revoked or expires
(stored tokens within the cache's seconds), and takes the token's current scopes; other kinds of
callers (``oidc:<subject>``) are checked by :attr:`DashboardConfig.caller_checks`, when one is
given, and last until the session expires.

Every form carries ``csrf`` (:func:`csrf_token`), and :func:`require_csrf` (a dependency of every
POST route) refuses one whose field does not match the session's (403).
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request

from vatti.api.auth import UNAUTHENTICATED
from vatti.dashboard.errors import DashboardError
from vatti.dashboard.state import dashboard_state
from vatti.domain.access import Caller
from vatti.domain.scopes import InvalidScope, format_scopes, parse_scopes

SESSION_COOKIE = "vatti_session"
CSRF_FIELD = "csrf"
#: the largest form the dashboard reads (its forms are a token and a CSRF field)
MAX_FORM_BYTES = 16 * 1024
_CALLER_KEYS = ("tenant", "scopes", "actor")


def sign_in(request: Request, caller: Caller) -> None:
    """Start a new session for ``caller``: whatever the old one held is dropped, and the new one
    gets a new id and a new CSRF token (no session fixation)."""
    ttl_s = dashboard_state(request).config.session_ttl_s
    session = request.session
    session.clear()
    now = int(time.time())
    session.update(
        {
            "sid": secrets.token_urlsafe(16),
            CSRF_FIELD: secrets.token_urlsafe(32),
            "tenant": caller.tenant,
            "scopes": format_scopes(caller.scopes),
            "actor": caller.actor,
            "iat": now,
            "exp": now + int(ttl_s),
        }
    )


def signed_in_caller(request: Request) -> Caller | None:
    """The signed-in caller; None when not signed in, the session expired, or its token was
    revoked or expired (the session is then ended). Served without authentication: everyone."""
    state = dashboard_state(request)
    if state.api.config.auth_disabled:
        return UNAUTHENTICATED
    session = request.session
    stored = _stored_caller(session)
    if stored is None:
        return None
    exp = session.get("exp")
    if not isinstance(exp, int) or time.time() >= exp:
        sign_out(request)
        return None
    caller = state.check_caller(stored)
    if caller is None:
        sign_out(request)
    return caller


def sign_out(request: Request) -> None:
    """End the session (the cookie is cleared in the response)."""
    request.session.clear()


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made when it has none: the sign-in form needs one too)."""
    session = request.session
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a urlencoded form (first value of each), read once per request; 400/413/415
    for anything else."""
    cached = getattr(request.state, "form_fields", None)
    if isinstance(cached, dict):
        return cached
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise DashboardError(413, "the form is too large")
    if body and kind != "application/x-www-form-urlencoded":
        raise DashboardError(415, "forms are sent as application/x-www-form-urlencoded")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise DashboardError(400, "the form could not be read") from None
    fields = {name: values[0] for name, values in parsed.items()}
    request.state.form_fields = fields
    return fields


async def require_csrf(request: Request) -> None:
    """A dependency of every POST route: the form's ``csrf`` field is the session's (403)."""
    expected = request.session.get(CSRF_FIELD)
    given = (await read_form(request)).get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not expected:
        raise DashboardError(403, "the session expired; load the page again and retry")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise DashboardError(403, "the form's CSRF token does not match; load the page again")


def _stored_caller(session: dict[str, Any]) -> Caller | None:
    values = [session.get(k) for k in _CALLER_KEYS]
    if not all(isinstance(v, str) and v for v in values):
        return None
    tenant, scopes, actor = (str(v) for v in values)
    try:
        return Caller(tenant, parse_scopes(scopes), actor)
    except InvalidScope:
        return None
