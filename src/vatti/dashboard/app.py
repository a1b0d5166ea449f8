"""The dashboard application, mounted at ``/dashboard`` by :func:`vatti.api.app.create_app`.

A FastAPI app of its own (mounted), so its errors are HTML pages and its session cookie is
scoped to it; the API's hardening middleware still wraps it (a page's own CSP, with its nonce,
replaces the API's).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles

from vatti.api.deps import ApiState
from vatti.api.errors import translate
from vatti.dashboard.config import DashboardConfig
from vatti.dashboard.errors import DashboardError, SignInRequired
from vatti.dashboard.live import ChangeSignal
from vatti.dashboard.pages import Pages
from vatti.dashboard.routes_auth import router as auth_router
from vatti.dashboard.routes_auth import sign_in_url
from vatti.dashboard.routes_jobs import router as jobs_router
from vatti.dashboard.routes_live import router as live_router
from vatti.dashboard.routes_summary import router as summary_router
from vatti.dashboard.session import SESSION_COOKIE, signed_in_caller
from vatti.dashboard.state import DashboardState, dashboard_state
from vatti.engine.wakeups import InProcessWakeups
from vatti.errors import VattiError

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("vatti.dashboard")


def dashboard_app(api: ApiState, config: DashboardConfig, *, mount_path: str) -> FastAPI:
    """The dashboard over ``api``'s job service, to be mounted at ``mount_path``."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    changes = ChangeSignal()
    wakeups = api.service.wakeups
    if isinstance(wakeups, InProcessWakeups):
        wakeups.subscribe(changes.notify)
    if config.subscribe_changes is not None:
        config.subscribe_changes(changes.notify)
    app.state.dashboard = DashboardState(api, config, Pages(), changes)
    for router in (auth_router, jobs_router, summary_router, live_router, *config.routers):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_first)
    app.add_exception_handler(DashboardError, _dashboard_error)
    app.add_exception_handler(VattiError, _vatti_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    key = config.session_key
    if key is None:
        log.info("dashboard.session_key_ephemeral: sessions end when this process does")
        key = secrets.token_hex(32)
    app.add_middleware(
        SessionMiddleware,
        secret_key=key,
        session_cookie=SESSION_COOKIE,
        max_age=int(config.session_ttl_s),
        path=mount_path,
        same_site="lax",  # the OpenID Connect provider's redirect back is cross-site
        https_only=api.config.tls,
    )
    return app


def error_page(request: Request, status: int, message: str) -> Response:
    caller = signed_in_caller(request) if "session" in request.scope else None
    return dashboard_state(request).pages.render(
        request,
        "error.html",
        status=status,
        caller=caller,
        status_code=status,
        message=message,
        title=f"Error {status}",
    )


async def _sign_in_first(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    base = request.scope.get("root_path", "")
    return RedirectResponse(sign_in_url(base, exc.next_path), status_code=303)


async def _dashboard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DashboardError)
    return error_page(request, exc.status, exc.message)


async def _vatti_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VattiError)
    err = translate(exc)
    return error_page(request, err.status, err.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = "no such page" if exc.status_code == 404 else str(exc.detail)
    return error_page(request, exc.status_code, message)
