"""Inputs a database driver chokes on get a clear 4xx on both backends, never a 500."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.integration.api.conftest import Api, auth, command_body

pytestmark = pytest.mark.integration

JOBS = "/api/v1/jobs"


@pytest.fixture
async def any_client(api_any_db: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with api_any_db.client() as http:
        yield http


@pytest.mark.parametrize(
    "path", ["%00", "a%00b", "not-a-job", "01a23361-d4e5-7667-a0c5-e61372d70527%00"]
)
@pytest.mark.parametrize("route", ["", "/events", "/logs", "/outputs"])
async def test_impossible_job_ids_are_not_found(
    any_client: httpx.AsyncClient, path: str, route: str
) -> None:
    resp = await any_client.get(f"{JOBS}/{path}{route}", headers=auth("reader"))
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == "job_not_found"


async def test_cancel_of_an_impossible_id_is_not_found(any_client: httpx.AsyncClient) -> None:
    resp = await any_client.post(f"{JOBS}/%00/cancel", headers=auth("submitter"))
    assert resp.status_code == 404


async def test_nul_in_filters_and_cursors_is_refused(any_client: httpx.AsyncClient) -> None:
    resp = await any_client.get(JOBS, params={"pipeline": "\x00"}, headers=auth("reader"))
    assert resp.status_code == 422
    assert resp.json()["error"]["details"][0]["field"] == "pipeline"
    raw = json.dumps(["2026-01-01T00:00:00+00:00", "a\x00"]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    resp = await any_client.get(JOBS, params={"cursor": cursor}, headers=auth("reader"))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"params": {"command": "hello", "args": {"name": "a\x00b"}}}, "params"),
        ({"params": {"argv": ["true"], "env": {"K": "v\x00"}}}, "params"),
        ({"labels": {"k": "v\x00"}}, "labels.k"),
        ({"params": {"argv": ["true"], "outputs": ["x\ny"]}}, "params.outputs.0"),
        ({"params": {"argv": ["true"], "outputs": ["a.txt", "./a.txt"]}}, "params.outputs"),
    ],
)
async def test_nul_and_control_characters_in_a_request_are_named(
    api_any_db: Api, any_client: httpx.AsyncClient, extra: dict[str, object], field: str
) -> None:
    body = {**command_body(), **extra}
    resp = await any_client.post(JOBS, json=body, headers=auth("submitter"))
    assert resp.status_code == 422, resp.text
    assert field in {d["field"] for d in resp.json()["error"]["details"]}
    assert api_any_db.job_count() == 0
