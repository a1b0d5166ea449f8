"""What one ``/metrics`` scrape costs against a large history, on SQLite or PostgreSQL.

Fills a fresh database with ``--jobs`` ended jobs (each: its events, a ``pgs`` match summary on
the succeeded ones, two delivered webhook messages) and ``--queued`` queued ones, then times the
collector of :mod:`vatti.metrics` as the API runs it: the first scrape (it folds the whole
history in), and the next ones (only the last minutes' rows are read again). For comparison, a
scrape without folding re-reads everything each time (what the first scrape does).

    .venv/bin/python benchmarks/metrics_scrape.py [--jobs 100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client.exposition import generate_latest

from vatti.domain.match_rates import SUMMARY_KEY, MatchRateSummary
from vatti.metrics.collector import store_registry
from vatti.store.migrate import migrate
from vatti.store.schema import job_events, jobs, outbox
from vatti.store.sql import open_store

BATCH = 5000


def fill(engine: sa.Engine, n_jobs: int, n_queued: int, now: datetime) -> None:
    summary = {"summary": {SUMMARY_KEY: MatchRateSummary.of([0.97, 0.6], passed=1).to_dict()}}
    start = now - timedelta(days=30)
    step = timedelta(days=30) / max(n_jobs, 1)
    job_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    message_rows: list[dict[str, Any]] = []

    def flush() -> None:
        with engine.begin() as conn:
            if job_rows:
                conn.execute(jobs.insert(), job_rows)
            if event_rows:
                conn.execute(job_events.insert(), event_rows)
            if message_rows:
                conn.execute(outbox.insert(), message_rows)
        job_rows.clear()
        event_rows.clear()
        message_rows.clear()

    for i in range(n_jobs + n_queued):
        job_id = str(uuid.uuid4())
        created = start + i * step
        ended = i < n_jobs
        state = ("succeeded", "failed", "cancelled")[i % 3] if ended else "queued"
        pipeline = "pgs" if i % 2 else "command"
        job_rows.append(
            {
                "id": job_id,
                "fingerprint": uuid.uuid4().hex * 2,
                "pipeline": pipeline,
                "spec": {},
                "state": state,
                "event_seq": 4 if ended else 2,
                "created_at": created,
                "updated_at": created,
                "queued_at": created,
                "started_at": created + timedelta(seconds=3) if ended else None,
                "finished_at": created + timedelta(seconds=60) if ended else None,
                "attempt": 1,
                "executor": "local" if ended else None,
                "failure_code": "pipeline_failed" if state == "failed" else None,
                "tenant": "default",
            }
        )
        for seq, (to_state, at, detail) in enumerate(
            [
                ("queued", created, {}),
                ("provisioning", created + timedelta(seconds=1), {}),
                ("running", created + timedelta(seconds=3), {}),
                (state, created + timedelta(seconds=60), summary if state == "succeeded" else {}),
            ][: 4 if ended else 1],
            start=1,
        ):
            event_id = str(uuid.uuid4())
            event_rows.append(
                {
                    "id": event_id,
                    "job_id": job_id,
                    "seq": seq,
                    "from_state": None if seq == 1 else "x",
                    "to_state": to_state,
                    "event": "x",
                    "at": at,
                    "detail": detail,
                }
            )
            if ended and seq >= 3:
                message_rows.append(
                    {
                        "job_id": job_id,
                        "event_id": event_id,
                        "channel": "webhook",
                        "destination": "https://hooks.example/x",
                        "payload": {},
                        "attempts": 1,
                        "created_at": at,
                        "next_attempt_at": at,
                        "delivered_at": at + timedelta(seconds=0.3),
                    }
                )
        if len(job_rows) >= BATCH:
            flush()
    flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--queued", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'vatti.db'}"
        migrate(url)
        store = open_store(url)
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        fill(store.engine, args.jobs, args.queued, now)
        filled = time.perf_counter() - t0
        print(f"filled {args.jobs} ended + {args.queued} queued jobs in {filled:.1f} s")
        registry = store_registry(store)
        t0 = time.perf_counter()
        body = generate_latest(registry)
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.scrapes):
            t0 = time.perf_counter()
            generate_latest(registry)
            times.append(time.perf_counter() - t0)
        name, median = store.engine.dialect.name, statistics.median(times)
        print(f"{name}: first scrape (folds the whole history in) {first * 1000:.0f} ms")
        print(f"{name}: next scrapes, median of {args.scrapes}: {median * 1000:.1f} ms")
        print(f"first/next: {first / median:.0f}x; exposition {len(body)} bytes")
        store.close()


if __name__ == "__main__":
    main()
