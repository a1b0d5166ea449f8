"""Whole jobs on S3: the service as ``vatti serve`` assembles it (API, engine, local executor, the
real runtime in its own process), with its work areas and its results in two buckets of a real S3
server (moto's, on loopback), submitted and read through the HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from vatti.assembly import Service, open_service
from vatti.config import (
    ApiSettings,
    CommandSettings,
    CommonSettings,
    EngineSettings,
    RuntimeSettings,
    Settings,
)
from vatti.domain.jobs import Job
from vatti.engine.sweeper import sweep_once
from vatti.testing.s3 import SECRET_ACCESS_KEY, S3Server

pytestmark = pytest.mark.integration

WAIT_S = 60
WORK, RESULTS = "vatti-work", "vatti-results"


@pytest.fixture
def service(tmp_path: Path, s3_server: S3Server, sqlite_database_url: str) -> Iterator[Service]:
    s3_server.create_bucket(WORK)
    s3_server.create_bucket(RESULTS)
    store = s3_server.settings(
        database_url=SecretStr(sqlite_database_url),
        object_store_url=f"s3://{WORK}/deploy",
        results_store_url=f"s3://{RESULTS}/deploy",
    )
    settings = Settings(
        common=CommonSettings(data_dir=tmp_path / "data"),
        store=store,
        api=ApiSettings(auth="none"),
        engine=EngineSettings(poll_interval=0.05),
        runtime=RuntimeSettings(pgs_offline=True),
        commands=CommandSettings(allow_raw_argv=True),  # the jobs are scripts of the tests
    )
    svc = open_service(settings)
    try:
        yield svc
    finally:
        svc.close()


@contextlib.asynccontextmanager
async def engine_running(svc: Service) -> AsyncIterator[asyncio.Queue[Job]]:
    """The engine's loops, and the jobs it changes (announced once their effects are done)."""
    loop = asyncio.get_running_loop()
    changes: asyncio.Queue[Job] = asyncio.Queue()
    svc.engine.ctx.listeners.append(lambda job: loop.call_soon_threadsafe(changes.put_nowait, job))
    runner = asyncio.create_task(svc.engine.run())
    try:
        yield changes
    finally:
        svc.engine.stop()
        await runner


async def ended(changes: asyncio.Queue[Job], job_id: str) -> Job:
    async with asyncio.timeout(WAIT_S):
        while True:
            job = await changes.get()
            if job.id == job_id and job.terminal:
                return job


def api(svc: Service) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=svc.app())
    return httpx.AsyncClient(transport=transport, base_url="http://vatti.test/api/v1")


async def submit(client: httpx.AsyncClient, argv: list[str], outputs: list[str]) -> str:
    body: dict[str, Any] = {"pipeline": "command", "params": {"argv": argv, "outputs": outputs}}
    answer = await client.post("/jobs", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_a_job_runs_on_s3_and_its_results_expire(
    service: Service, s3_server: S3Server
) -> None:
    script = "mkdir -p sub && echo hello > sub/hello.txt && env > env.txt"
    async with engine_running(service) as changes, api(service) as client:
        job_id = await submit(client, ["sh", "-c", script], ["sub/hello.txt", "env.txt"])
        job = await ended(changes, job_id)
        assert job.state.value == "succeeded", job.failure

        listed = (await client.get(f"/jobs/{job_id}/outputs")).json()
        names = sorted(o["name"] for o in listed["outputs"])
        assert names == ["env.txt", "sub/hello.txt"]
        hello = await client.get(f"/jobs/{job_id}/outputs/sub/hello.txt")
        assert hello.content == b"hello\n"
        env = (await client.get(f"/jobs/{job_id}/outputs/env.txt")).text
        log = (await client.get(f"/jobs/{job_id}/logs")).text
        assert "runtime.start" in log

    # the job read its spec from and wrote its results to S3 with the credentials it was
    # handed on its secrets pipe (moto refuses anonymous reads): not in its command's
    # environment, nor in its log
    assert SECRET_ACCESS_KEY not in env
    assert SECRET_ACCESS_KEY not in log
    # work area cleaned (its log stays for the TTL); results in the results bucket only
    assert s3_server.keys(WORK) == [f"deploy/jobs/{job_id}/logs/job.log"]
    assert s3_server.keys(RESULTS) == [
        f"deploy/results/{job_id}/manifest.json",
        f"deploy/results/{job_id}/outputs/env.txt",
        f"deploy/results/{job_id}/outputs/sub/hello.txt",
    ]
    # the results bucket expires them too
    rules = s3_server.client.get_bucket_lifecycle_configuration(Bucket=RESULTS)["Rules"]
    assert [r["Filter"] for r in rules] == [{"Prefix": "deploy/results/"}]

    expiry = service.store.get(job_id).results_expire_at
    assert expiry is not None
    later = expiry + timedelta(seconds=1)
    sweep_once(dataclasses.replace(service.engine.ctx, clock=lambda: later))
    assert s3_server.keys(RESULTS) == []
    assert s3_server.keys(WORK) == []
    async with api(service) as client:
        assert (await client.get(f"/jobs/{job_id}/outputs")).status_code == 404


async def test_a_failed_job_deletes_its_own_areas_and_nothing_else(
    service: Service, s3_server: S3Server
) -> None:
    foreign = {
        WORK: ["README", "deploy-old/jobs/x/work/spec.json", "other/results/x/manifest.json"],
        RESULTS: ["deploy-old/results/x/outputs/a.txt", "deploy/notes.txt"],
    }
    for bucket, keys in foreign.items():
        for key in keys:
            s3_server.client.put_object(Bucket=bucket, Key=key, Body=b"not vatti's")

    async with engine_running(service) as changes, api(service) as client:
        kept_id = await submit(client, ["sh", "-c", "echo kept > a.txt"], ["a.txt"])
        assert (await ended(changes, kept_id)).state.value == "succeeded"
        failed_id = await submit(client, ["sh", "-c", "echo partial > a.txt; exit 3"], ["a.txt"])
        failed = await ended(changes, failed_id)
        assert failed.state.value == "failed"
        assert failed.failure is not None
        assert failed.failure.exit_code == 3

    sweep_once(service.engine.ctx)  # the sweeper keeps to vatti's own areas too
    assert kept_id != failed_id
    assert s3_server.keys(WORK) == sorted(
        [
            *foreign[WORK],
            f"deploy/jobs/{kept_id}/logs/job.log",
            f"deploy/jobs/{failed_id}/logs/job.log",
        ]
    )
    assert s3_server.keys(RESULTS) == sorted(
        [
            *foreign[RESULTS],
            f"deploy/results/{kept_id}/manifest.json",
            f"deploy/results/{kept_id}/outputs/a.txt",
        ]
    )
    async with api(service) as client:
        kept = await client.get(f"/jobs/{kept_id}/outputs/a.txt")
        assert kept.content == b"kept\n"
