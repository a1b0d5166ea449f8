"""``GET /metrics``: the Prometheus exposition of :mod:`vatti.metrics`, read from the database.

Who may scrape it (``VATTI_METRICS_ACCESS``): ``token`` (the default) asks for a bearer token
with the ``read`` or ``admin`` scope; ``loopback`` also serves clients connecting from a
loopback address without one (a Prometheus or an exporter sidecar on the same host; not behind
a reverse proxy on the same host, whose requests all come from loopback).
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response

from vatti.api.auth import is_loopback, require
from vatti.api.deps import State
from vatti.domain.scopes import READ

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from vatti.store.base import JobStore

router = APIRouter(tags=["metrics"])
_check_reader = require(READ)
_registry_lock = threading.Lock()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, state: State) -> Response:
    client = request.client
    if not (
        state.config.metrics_access == "loopback"
        and client is not None
        and is_loopback(client.host)
    ):
        await _check_reader(request)
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    body = await asyncio.to_thread(_render, request, state.service.store)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _render(request: Request, store: JobStore) -> bytes:
    from prometheus_client.exposition import generate_latest

    return generate_latest(_registry(request, store))


def _registry(request: Request, store: JobStore) -> CollectorRegistry:
    """The app's registry, made at the first scrape (what it folded in lives with the app)."""
    with _registry_lock:
        registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
        if registry is None:
            from vatti.metrics.collector import store_registry

            registry = store_registry(store)
            request.app.state.metrics_registry = registry
        return registry
