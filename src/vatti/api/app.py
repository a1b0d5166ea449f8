"""The application factory: ``create_app(service, config, engine_alive=...)``."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from vatti.api.auth import StoredTokens
from vatti.api.config import ApiConfig
from vatti.api.deps import ApiState
from vatti.api.errors import install_error_handlers
from vatti.api.hardening import Hardening
from vatti.api.limits import BodySizeLimit
from vatti.api.openapi import openapi_document
from vatti.api.routes_health import router as health_router
from vatti.api.routes_jobs import router as jobs_router
from vatti.api.throttle import SubmitThrottle
from vatti.dashboard.app import dashboard_app
from vatti.dashboard.config import DashboardConfig
from vatti.pipelines.base import PipelineRegistry
from vatti.service.jobs import JobService

__all__ = ["ApiConfig", "create_app"]


def create_app(
    service: JobService,
    config: ApiConfig,
    *,
    engine_alive: Callable[[], bool] | None = None,
    tokens: StoredTokens | None = None,
    dashboard: DashboardConfig | None = None,
) -> FastAPI:
    """The API over the job service. ``engine_alive`` reports on the engine this process runs
    (the caller runs and stops it), for ``/readyz``; None for an API-only process."""
    app = FastAPI(
        title="vatti",
        version=_version(),
        description="Secure job submission for genomic pipelines.",
        docs_url=None,
        redoc_url=None,
    )
    throttle = SubmitThrottle(rate_per_min=config.submit_rate_per_min, burst=config.submit_burst)
    app.state.vatti = ApiState(
        service, config, engine_alive, tokens, throttle if throttle.enabled else None
    )
    routers = (health_router, jobs_router)
    for router in routers:
        app.include_router(router)
    install_error_handlers(app, routes=[route for r in routers for route in r.routes])
    app.mount(
        "/dashboard",
        dashboard_app(app.state.vatti, dashboard or DashboardConfig(), mount_path="/dashboard"),
    )
    app.add_middleware(BodySizeLimit, max_body_bytes=config.max_body_bytes)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["Location", "X-Request-Id", "X-Vatti-Deduplicated"],
            max_age=600,
        )
    app.add_middleware(Hardening, tls=config.tls)  # outermost: every answer gets its headers
    _document(app, service.registry, config)
    return app


def _version() -> str:
    try:
        return version("vatti")
    except PackageNotFoundError:
        return "0+unknown"


def _document(app: FastAPI, registry: PipelineRegistry, config: ApiConfig) -> None:
    """Serve :func:`openapi_document` (built at the first request for it)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(app, registry, config)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
