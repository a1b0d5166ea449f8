"""Issue #2 point 10: endpoint down, server restarted, endpoint up -> every event arrives, in order.

A real engine (SQLite store, local executor, the real runtime over a file:// object store)
runs jobs to the end while the webhook endpoint is down; the engine is dropped and a new one
started on the same database; then the endpoint comes up. Every notification must arrive, once
its turn comes, in order per job.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vatti.domain.fingerprint import fingerprint
from vatti.domain.jobs import Job
from vatti.domain.requests import JobRequest
from vatti.engine.context import EngineContext
from vatti.engine.service import Engine
from vatti.executors.local import LocalExecutor
from vatti.notify.backoff import ExponentialBackoff
from vatti.notify.signature import verify_signature
from vatti.notify.webhook import WebhookNotifier
from vatti.staging.areas import ObjectOutcomes, ObjectWorkAreas
from vatti.staging.objects import ObjectStore
from vatti.store.base import JobStore, NewJob
from vatti.store.sql import open_store
from vatti.testing.config import engine_config
from vatti.testing.jobs import service_for

from .conftest import Receiver

pytestmark = pytest.mark.integration

WAIT_S = 60
SECRET = "restart-secret"
JOBS = 3


def new_job(n: int) -> NewJob:
    req = JobRequest.model_validate(
        {
            "pipeline": "command",
            "params": {"command": "hello", "args": {"name": f"job {n}"}},
        }
    )
    return NewJob(
        pipeline=req.pipeline,
        spec=req.model_dump(mode="json", exclude={"webhook_url", "client_id"}),
        fingerprint=fingerprint(req),
    )


def make_engine(store: JobStore, tmp: Path, webhook_url: str) -> Engine:
    objects = ObjectStore.from_url((tmp / "objects").as_uri())
    config = engine_config(
        max_concurrent_jobs=JOBS,
        poll_interval_s=0.05,
        reconcile_interval_s=0.5,
        terminate_grace_s=5.0,
        webhook_url=webhook_url,
        runtime_env={"VATTI_DATA_DIR": str(tmp / "data"), "VATTI_OBJECT_STORE_URL": objects.url},
    )
    ctx = EngineContext(
        store=store,
        executor=LocalExecutor(tmp / "exec", scratch_root=tmp / "scratch"),
        areas=ObjectWorkAreas(objects),
        outcomes=ObjectOutcomes(objects),
        config=config,
        notifier=WebhookNotifier(SECRET, timeout_s=2.0),
        retry=ExponentialBackoff(base_s=0.05, max_s=0.2),
        scratch_root=tmp / "scratch",
    )
    return Engine(ctx)


async def run_until(engine: Engine, done: Callable[[], bool], wake: asyncio.Event) -> None:
    """Run ``engine`` until ``done()`` (checked whenever ``wake`` is set), then stop it."""
    task = asyncio.create_task(engine.run())
    try:
        async with asyncio.timeout(WAIT_S):
            while True:
                wake.clear()
                if await asyncio.to_thread(done):
                    return
                waiter = asyncio.create_task(wake.wait())
                finished, _ = await asyncio.wait(
                    {waiter, task}, return_when=asyncio.FIRST_COMPLETED
                )
                if task in finished:
                    waiter.cancel()
                    task.result()
                    raise AssertionError("the engine stopped on its own")
    finally:
        engine.stop()
        await task


async def test_events_queued_while_down_arrive_in_order_after_a_restart(
    tmp_path: Path, sqlite_database_url: str, receiver: Receiver
) -> None:
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def changed(_job: Job) -> None:
        loop.call_soon_threadsafe(wake.set)

    # 1. endpoint down: run every job to its end; nothing can be delivered
    store = open_store(sqlite_database_url)
    first = make_engine(store, tmp_path, receiver.url)
    first.ctx.listeners.append(changed)
    ids = [
        (await asyncio.to_thread(service_for(first).submit_new, new_job(n))).job.id
        for n in range(JOBS)
    ]

    def all_terminal() -> bool:
        return all(store.get(i).terminal for i in ids)

    await run_until(first, all_terminal, wake)
    outbox = {i: store.outbox_for(i) for i in ids}
    assert all(m.delivered_at is None and m.dead_at is None for ms in outbox.values() for m in ms)
    assert any(m.attempts > 0 for ms in outbox.values() for m in ms)  # it did try, and failed
    store.close()
    assert isinstance(first.ctx.executor, LocalExecutor)
    first.ctx.executor.close()
    del first, store  # the "server" is gone

    # 2. a new engine on the same database; then the endpoint comes up
    store = open_store(sqlite_database_url)
    second = make_engine(store, tmp_path, receiver.url)
    expected = sum(len(ms) for ms in outbox.values())
    arrived = asyncio.Event()
    receiver.listeners.append(lambda _r: loop.call_soon_threadsafe(arrived.set))
    receiver.start()

    def all_arrived() -> bool:
        return len(receiver.received) >= expected

    try:
        await run_until(second, all_arrived, arrived)
        jobs = {i: store.get(i) for i in ids}
        events = {i: [e.id for e in store.events(i)] for i in ids}
    finally:
        store.close()
        assert isinstance(second.ctx.executor, LocalExecutor)
        second.ctx.executor.close()

    # 3. all of them, signed, each once, in order per job, ending with the job's outcome
    got: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in receiver.received:
        assert verify_signature(SECRET, r.headers["X-Vatti-Signature"], r.body)
        payload = json.loads(r.body)
        assert r.headers["X-Vatti-Event-Id"] == payload["event_id"]
        got[payload["job_id"]].append(payload)
    assert sorted(got) == sorted(ids)
    for job_id in ids:
        assert [p["event_id"] for p in got[job_id]] == events[job_id]
        final: Job = jobs[job_id]
        assert final.state.value == "succeeded", final.failure
        assert got[job_id][0]["event"] in ("Requested", "Created")
        assert got[job_id][-1]["event"] == "Succeeded"
    assert len(receiver.received) == expected
