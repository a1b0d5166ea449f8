"""``GET /metrics``: who may scrape it, and that it reads the jobs of the database."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.api.conftest import Api, auth, build_api, command_body

pytestmark = pytest.mark.integration

JOBS = "/api/v1/jobs"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def client_from(api: Api, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=api.app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api.test")


async def test_metrics_need_a_read_or_admin_token(api: Api) -> None:
    async with api.client() as client:  # a loopback client: the token mode still asks
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=auth("submitter"))).status_code == 403
        for who in ("reader", "admin"):
            answer = await client.get("/metrics", headers=auth(who))
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/plain; version=")


async def test_loopback_mode_serves_local_scrapers_without_a_token(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    api = build_api(sqlite_database_url, tmp_path, metrics_access="loopback")
    try:
        async with client_from(api, "127.0.0.1") as local:
            assert (await local.get("/metrics")).status_code == 200
        async with client_from(api, "10.1.2.3") as remote:
            assert (await remote.get("/metrics")).status_code == 401
            assert (await remote.get("/metrics", headers=auth("reader"))).status_code == 200
    finally:
        api.store.close()


async def test_metrics_count_the_jobs_submitted(api: Api) -> None:
    async with api.client(headers=auth("admin")) as client:
        for n in range(3):
            body = command_body()
            body["labels"] = {"n": str(n)}
            assert (await client.post(JOBS, json=body)).status_code == 201
        text = (await client.get("/metrics")).text
    found = samples(text)
    assert found[("vatti_jobs", (("pipeline", "command"), ("state", "queued")))] == 3
    assert found[("vatti_queue_depth", ())] == 3
    # no job id appears in any label
    assert all("job" not in name for (_, labels) in found for name, _ in labels)
