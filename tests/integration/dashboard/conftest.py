"""Dashboard fixtures: the real app (API + dashboard) over a real SQL store, with stored tokens
(``vatti token create``'s) checked by id on every request, and a browser-like client that keeps
the session cookie and reads each form's CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.api.conftest import TOKENS, Api, build_api

from vatti.api import create_app
from vatti.api.auth import StoredTokens
from vatti.dashboard.config import DashboardConfig, HealthItem
from vatti.domain.times import utcnow
from vatti.store.tokens import SqlTokenStore

BASE = "/dashboard"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Dash:
    api: Api
    tokens: SqlTokenStore

    def stored_token(self, tenant: str = "default", scopes: str = "read") -> tuple[str, str]:
        """A token made as ``vatti token create`` makes one: (its id, the token)."""
        record, token = self.tokens.create(
            tenant=tenant, scopes=[scopes], description="dashboard test", now=utcnow()
        )
        return record.id, token

    def client(self) -> Browser:
        transport = httpx.ASGITransport(app=self.api.app, raise_app_exceptions=False)
        return Browser(
            httpx.AsyncClient(transport=transport, base_url="http://dash.test"), self.api
        )


@dataclass
class Browser:
    http: httpx.AsyncClient
    api: Api

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(BASE + path, **kw)

    async def csrf(self, path: str = "/sign-in") -> str:
        page = await self.get(path)
        found = _CSRF.search(page.text)
        assert found is not None, page.text
        return found.group(1)

    async def post(self, path: str, fields: dict[str, str], *, csrf: str | None) -> httpx.Response:
        data = dict(fields)
        if csrf is not None:
            data["csrf"] = csrf
        return await self.http.post(BASE + path, data=data)

    async def sign_in(self, token: str) -> httpx.Response:
        return await self.post("/sign-in", {"token": token}, csrf=await self.csrf())

    async def sign_in_as(self, who: str) -> None:
        resp = await self.sign_in(TOKENS[who])
        assert resp.status_code == 303, resp.text


def outbox_health(api: Api) -> list[HealthItem]:
    channels = api.store.outbox_backlog()
    dead, pending = sum(c.dead for c in channels), sum(c.pending for c in channels)
    return [HealthItem("outbox", dead == 0, f"{pending} waiting")]


@pytest.fixture
def dash(database_url: str, tmp_path: Path) -> Iterator[Dash]:
    """On SQLite and on PostgreSQL."""
    api = build_api(database_url, tmp_path)
    store = SqlTokenStore(api.store.engine)  # type: ignore[attr-defined]
    # a cache of no time: a revocation holds at the next request
    by_id = StoredTokens(store.get, ttl_s=0.0)
    api.app = create_app(
        api.jobs,
        api.config,
        engine_alive=lambda: api.engine.alive,
        tokens=StoredTokens(store.find, ttl_s=0.0),
        dashboard=DashboardConfig(
            session_key="k" * 64, token_by_id=by_id.caller, health=lambda: outbox_health(api)
        ),
    )
    try:
        yield Dash(api, store)
    finally:
        api.store.close()


@pytest.fixture
async def browser(dash: Dash) -> AsyncIterator[Browser]:
    b = dash.client()
    async with b.http:
        yield b
