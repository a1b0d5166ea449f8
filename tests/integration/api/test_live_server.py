"""The API over a real socket (uvicorn in a thread), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tests.integration.api.conftest import Api, auth, command_body

pytestmark = pytest.mark.integration

JOBS = "/api/v1/jobs"
N = 50


async def fire(base: str, body: dict[str, object]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=N)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        return list(
            await asyncio.gather(
                *(client.post(JOBS, json=body, headers=auth("submitter")) for _ in range(N))
            )
        )


async def test_concurrent_identical_requests_make_one_job(api_any_db: Api) -> None:
    base = api_any_db.serve()
    responses = await fire(base, command_body("same"))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (N - 1) + [201]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    for resp in responses:
        deduplicated = resp.headers.get("x-vatti-deduplicated")
        assert deduplicated == ("true" if resp.status_code == 200 else None)
    assert api_any_db.job_count() == 1


async def test_concurrent_requests_with_one_client_id(api_any_db: Api) -> None:
    base = api_any_db.serve()
    responses = await fire(base, command_body("same", client_id="batch-42"))

    created = [r for r in responses if r.status_code == 201]
    conflicts = [r for r in responses if r.status_code == 409]
    assert len(created) == 1
    assert len(conflicts) == N - 1
    job_id = created[0].json()["id"]
    for resp in conflicts:
        body = resp.json()
        assert body["error"]["code"] == "duplicate_client_id"
        assert body["job"]["id"] == job_id
        assert body["job"]["client_id"] == "batch-42"
    assert api_any_db.job_count() == 1


async def test_oversized_bodies_over_a_socket(api: Api) -> None:
    base = api.serve()
    limit = api.config.max_body_bytes

    async def chunks() -> object:
        yield b'{"pipeline": "command", "params": {"command": "hello", "args": {"name": "'
        for _ in range(limit // 65536 + 1):
            yield b"x" * 65536
        yield b'"}}}'

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        declared = await client.post(
            JOBS, json=command_body("x" * (limit + 1)), headers=auth("submitter")
        )
        chunked = await client.post(
            JOBS,
            content=chunks(),  # type: ignore[arg-type]
            headers={**auth("submitter"), "Content-Type": "application/json"},
        )
    for resp in (declared, chunked):
        assert resp.status_code == 413
        assert resp.json()["error"]["code"] == "payload_too_large"
    assert api.job_count() == 0


async def test_ready_while_engine_runs(api: Api) -> None:
    base = api.serve()
    runner = asyncio.create_task(api.engine.run())
    await asyncio.sleep(0)  # let the engine start its loops
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"database": True, "schema": True, "engine": True}
            api.engine.stop()
            await runner
            stopped = await client.get("/readyz")
            assert stopped.status_code == 503
    finally:
        api.engine.stop()
        await runner
