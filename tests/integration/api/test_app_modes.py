"""Dev mode without auth, the 500 envelope, and tokens kept out of logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from tests.integration.api.conftest import TOKENS, auth, build_api, command_body

from vatti.pipelines.base import Pipeline, PipelineRegistry

pytestmark = pytest.mark.integration

JOBS = "/api/v1/jobs"


async def test_auth_disabled_needs_no_token(sqlite_database_url: str, tmp_path: Path) -> None:
    api = build_api(sqlite_database_url, tmp_path, tokens={}, auth_disabled=True)
    try:
        async with api.client() as client:
            created = await client.post(JOBS, json=command_body())
            assert created.status_code == 201
            listed = await client.get(JOBS)
            assert [j["id"] for j in listed.json()["jobs"]] == [created.json()["id"]]
    finally:
        api.store.close()


async def test_unexpected_errors_use_the_envelope(
    sqlite_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> Pipeline[Any]:
        raise RuntimeError("secret internals")

    registry = PipelineRegistry()
    registry.register("broken", broken)
    api = build_api(sqlite_database_url, tmp_path, registry=registry)
    try:
        async with api.client() as client:
            resp = await client.post(JOBS, json={"pipeline": "broken"}, headers=auth("admin"))
        assert resp.status_code == 500
        request_id = resp.headers["x-request-id"]
        assert resp.json() == {
            "error": {
                "code": "internal_error",
                "message": "internal server error",
                "details": [],
                "request_id": request_id,
            }
        }
        # answered outside the middlewares, still with their headers
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert api.job_count() == 0
        assert "api.unhandled_error" in caplog.text
    finally:
        api.store.close()


async def test_tokens_never_reach_the_logs(
    sqlite_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = build_api(sqlite_database_url, tmp_path)
    try:
        async with api.client() as client:
            await client.post(JOBS, json=command_body(), headers=auth("submitter"))
            await client.post(JOBS, json=command_body(), headers=auth("reader"))
            await client.get(JOBS, headers={"Authorization": "Bearer not-a-known-token"})
            await client.get(JOBS, headers=auth("admin"))
    finally:
        api.store.close()
    for token in [*TOKENS.values(), "not-a-known-token"]:
        assert token not in caplog.text
