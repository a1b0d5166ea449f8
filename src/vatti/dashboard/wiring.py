"""The dashboard's config from the service's settings and parts (what ``vatti serve`` mounts)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from vatti.api.auth import StoredTokens
from vatti.config import Settings
from vatti.dashboard.config import DashboardConfig, HealthItem, session_key
from vatti.domain.jobs import Job
from vatti.domain.times import utcnow
from vatti.engine.service import Engine
from vatti.oidc.wiring import oidc_parts
from vatti.secretbox import key_file_keys
from vatti.store.sql import SqlJobStore
from vatti.store.tokens import SqlTokenStore


def dashboard_config(settings: Settings, store: SqlJobStore, engine: Engine) -> DashboardConfig:
    api = settings.api
    assert api is not None, "the api settings were not loaded"
    keys = settings.store.secret_keys() or key_file_keys(settings.data_dir)
    executor = settings.engine.executor if settings.engine is not None else "?"

    def subscribe(callback: Callable[[], None]) -> None:
        def changed(_job: Job) -> None:
            callback()

        engine.ctx.listeners.append(changed)

    def health() -> list[HealthItem]:
        channels = store.outbox_backlog()
        pending = sum(c.pending for c in channels)
        retrying = sum(c.retrying for c in channels)
        dead = sum(c.dead for c in channels)
        oldest = _age(
            min((c.oldest_pending_at for c in channels if c.oldest_pending_at), default=None),
            utcnow(),
        )
        return [
            HealthItem("executor", None, executor),
            HealthItem(
                "outbox",
                dead == 0 and retrying == 0,
                f"{pending} waiting ({retrying} retrying"
                + (f", oldest {oldest}" if oldest else "")
                + f"), {dead} given up",
            ),
        ]

    oidc = oidc_parts(settings.oidc, keys)  # the OpenID Connect sign-in, when configured
    return DashboardConfig(
        routers=oidc.routers,
        sign_in_options=oidc.options,
        session_key=session_key(keys[0]),
        session_ttl_s=api.dashboard_session_ttl,
        token_by_id=StoredTokens(SqlTokenStore(store.engine).get).caller,
        health=health,
        subscribe_changes=subscribe,
    )


def _age(at: datetime | None, now: datetime) -> str | None:
    from vatti.dashboard.views import span

    return None if at is None else span((now - at).total_seconds()) + " ago"
