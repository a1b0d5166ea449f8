"""Signing in with an API token, and signing out (both forms carry the CSRF token)."""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from vatti.api.auth import configured_caller
from vatti.dashboard.errors import SignInRequired
from vatti.dashboard.session import (
    read_form,
    require_csrf,
    sign_in,
    sign_out,
    signed_in_caller,
)
from vatti.dashboard.state import dashboard_state
from vatti.domain.access import Caller
from vatti.tokens import hash_token

router = APIRouter()
#: longer than any token (the API refuses longer ones too)
MAX_TOKEN_LEN = 4096
Csrf = Depends(require_csrf)


def require_caller(request: Request) -> Caller:
    """A dependency: the signed-in caller; otherwise a redirect to the sign-in page."""
    caller = signed_in_caller(request)
    if caller is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return caller


SignedIn = Annotated[Caller, Depends(require_caller)]


def safe_next(base: str, target: str | None) -> str:
    """Where to go after signing in: a dashboard path, never another site.

    >>> safe_next("/dashboard", "/dashboard/jobs/1"), safe_next("/dashboard", "//evil.example")
    ('/dashboard/jobs/1', '/dashboard/')
    >>> safe_next("/dashboard", "https://evil.example/dashboard/")
    '/dashboard/'
    """
    if target and target.startswith(base + "/") and "//" not in target and "\\" not in target:
        return target
    return base + "/"


def sign_in_url(base: str, next_path: str) -> str:
    return f"{base}/sign-in?next={quote(next_path, safe='/')}"


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    state = dashboard_state(request)
    base = request.scope.get("root_path", "")
    if signed_in_caller(request) is not None:
        return RedirectResponse(safe_next(base, next), status_code=303)
    return state.pages.render(
        request,
        "sign_in.html",
        next=safe_next(base, next),
        error=None,
        title="Sign in",
        sign_in_options=state.config.sign_in_options,
    )


@router.post("/sign-in", dependencies=[Csrf])
async def sign_in_form(request: Request) -> Response:
    state = dashboard_state(request)
    base = request.scope.get("root_path", "")
    form = await read_form(request)
    target = safe_next(base, form.get("next"))
    token = form.get("token", "").strip()
    caller = None
    if token and len(token) <= MAX_TOKEN_LEN:
        caller = configured_caller(token, state.api.config.tokens)
        if caller is None and state.api.tokens is not None:
            caller = await asyncio.to_thread(state.api.tokens.caller, hash_token(token))
    if caller is None or not (caller.may_read() or caller.admin):
        message = (
            "That token is unknown, revoked or expired."
            if caller is None
            else "That token may not read jobs (it needs the read or admin scope)."
        )
        return state.pages.render(
            request,
            "sign_in.html",
            status=401,
            next=target,
            error=message,
            title="Sign in",
            sign_in_options=state.config.sign_in_options,
        )
    sign_in(request, caller)
    return RedirectResponse(target, status_code=303)


@router.post("/sign-out", dependencies=[Csrf])
def sign_out_form(request: Request) -> Response:
    sign_out(request)
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/sign-in", status_code=303)
