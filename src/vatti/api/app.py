"""The application factory: ``create_app(service, config, engine_alive=...)``."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from vatti.api.config import ApiConfig
from vatti.api.deps import ApiState
from vatti.api.errors import install_error_handlers
from vatti.api.limits import BodySizeLimit
from vatti.api.routes_health import router as health_router
from vatti.api.routes_jobs import router as jobs_router
from vatti.domain.requests import JobRequest
from vatti.service.jobs import JobService

__all__ = ["ApiConfig", "create_app"]


def create_app(
    service: JobService,
    config: ApiConfig,
    *,
    engine_alive: Callable[[], bool] | None = None,
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
    app.state.vatti = ApiState(service, config, engine_alive)
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(jobs_router)
    app.add_middleware(BodySizeLimit, max_body_bytes=config.max_body_bytes)
    _document_request_body(app)
    return app


def _version() -> str:
    try:
        return version("vatti")
    except PackageNotFoundError:
        return "0+unknown"


def _document_request_body(app: FastAPI) -> None:
    """Add the JobRequest schema (parsed by hand, after auth) to the OpenAPI components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            body = JobRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(body.pop("$defs", {}))
            components["JobRequest"] = body
            schema["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
