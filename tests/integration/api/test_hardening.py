"""Every answer carries the security headers and the request's id; CORS only when configured."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from tests.integration.api.conftest import auth, build_api, command_body

pytestmark = pytest.mark.integration

JOBS = "/api/v1/jobs"
PORTAL = "https://portal.example.org"


def assert_hardened(headers: httpx.Headers) -> str:
    """The security headers are there (no HSTS: plain HTTP); the request's id."""
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "strict-transport-security" not in headers
    return headers["x-request-id"]


async def test_every_answer_carries_the_headers_and_its_own_request_id(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    api = build_api(sqlite_database_url, tmp_path)
    try:
        async with api.client() as client:
            answers = [
                await client.get("/healthz"),
                await client.post(JOBS, json=command_body(), headers=auth("admin")),
                await client.post(JOBS, json=command_body()),  # 401
                await client.get(f"{JOBS}/job_nosuchjob", headers=auth("admin")),  # 404
                await client.post(JOBS, json={"pipeline": 3}, headers=auth("admin")),  # 422
                await client.delete(JOBS, headers=auth("admin")),  # 405
            ]
        assert [a.status_code for a in answers] == [200, 201, 401, 404, 422, 405]
        ids = [assert_hardened(a.headers) for a in answers]
        assert len(set(ids)) == len(ids)
        for answer, request_id in zip(answers[2:], ids[2:], strict=True):
            assert answer.json()["error"]["request_id"] == request_id
    finally:
        api.store.close()


async def test_a_clients_request_id_is_kept_only_when_safe(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    api = build_api(sqlite_database_url, tmp_path)
    try:
        async with api.client() as client:
            kept = await client.get(
                f"{JOBS}/job_nosuchjob",
                headers={**auth("admin"), "X-Request-Id": "portal:42.a_b-c"},
            )
            unsafe = "<script>" + "x" * 10
            replaced = await client.get(
                f"{JOBS}/job_nosuchjob", headers={**auth("admin"), "X-Request-Id": unsafe}
            )
        assert kept.headers["x-request-id"] == "portal:42.a_b-c"
        assert kept.json()["error"]["request_id"] == "portal:42.a_b-c"
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])
        assert unsafe not in replaced.text
    finally:
        api.store.close()


async def test_cors_is_off_unless_configured(sqlite_database_url: str, tmp_path: Path) -> None:
    api = build_api(sqlite_database_url, tmp_path)
    try:
        async with api.client() as client:
            preflight = await client.options(
                JOBS, headers={"Origin": PORTAL, "Access-Control-Request-Method": "POST"}
            )
            listed = await client.get(JOBS, headers={**auth("admin"), "Origin": PORTAL})
        assert "access-control-allow-origin" not in preflight.headers
        assert listed.status_code == 200
        assert "access-control-allow-origin" not in listed.headers
    finally:
        api.store.close()


async def test_cors_answers_the_configured_origins_only(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    api = build_api(sqlite_database_url, tmp_path, cors_origins=(PORTAL,))
    try:
        async with api.client() as client:
            asked = {
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            }
            allowed = await client.options(JOBS, headers={"Origin": PORTAL, **asked})
            other = await client.options(JOBS, headers={"Origin": "https://evil.example", **asked})
            listed = await client.get(JOBS, headers={**auth("admin"), "Origin": PORTAL})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == PORTAL
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
        assert listed.headers["access-control-allow-origin"] == PORTAL
        assert "x-request-id" in listed.headers["access-control-expose-headers"].lower()
        assert_hardened(allowed.headers)
    finally:
        api.store.close()
