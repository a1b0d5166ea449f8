"""Submissions per second through the HTTP API, and submission-to-succeeded latency.

Starts a real ``vatti serve`` (embedded engine, local executor; ``VATTI_AUTH=none``,
``VATTI_MAX_CONCURRENT_JOBS=2``, ``VATTI_POLL_INTERVAL=0.05``) on SQLite and on PostgreSQL (a
fresh database created and dropped here), and for each backend measures:

- latency: sequential single no-op ``command`` jobs (``argv: ["true"]``) on the otherwise idle
  server, each submitted then watched with ``GET /api/v1/jobs/{id}`` every ``--poll-ms``; the
  median and p95 client-side time from the POST to seeing ``succeeded``, with the server's own
  split of it (from the job's events): queued -> admitted, admitted -> running, running -> done;
- throughput: ``--jobs`` such jobs POSTed by ``--clients`` concurrent clients (each with its own
  ``client_id``, so none deduplicates): submissions/s; then the rate at which the server drains
  them (jobs run per second end to end, bounded by ``VATTI_MAX_CONCURRENT_JOBS``).

For scale, the "floor" line is what every job pays before it does anything: one start of
``python -m vatti.runtime --help`` (the job's own process, as executors launch it) on this
machine. No peer queue is installed here (Celery, arq, ...), so no peer row is printed.

    .venv/bin/python benchmarks/api_throughput.py [--jobs 100] [--clients 8] [--latency-jobs 20]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

PG_ADMIN = os.environ.get(
    "VATTI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TERMINAL = ("succeeded", "failed", "cancelled")
SERVER_ENV = {
    "VATTI_AUTH": "none",
    "VATTI_MAX_CONCURRENT_JOBS": "2",
    "VATTI_POLL_INTERVAL": "0.05",
    "VATTI_LOG_LEVEL": "WARNING",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty database on the test server; dropped afterwards."""
    import psycopg

    name = f"vatti_bench_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def server(data_dir: Path, database_url: str | None) -> Iterator[str]:
    """``vatti serve`` on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    env = {**os.environ, **SERVER_ENV, "VATTI_DATA_DIR": str(data_dir)}
    env.pop("VATTI_DATABASE_URL", None)
    if database_url:
        env["VATTI_DATABASE_URL"] = database_url
    cmd = [sys.executable, "-m", "vatti", "serve", "--host", "127.0.0.1", "--port", str(port)]
    errors = data_dir / "server.stderr"
    with errors.open("wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited: {errors.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not become ready in 60 s")
            time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def job_body(tag: str) -> dict[str, Any]:
    return {
        "pipeline": "command",
        "client_id": f"bench-{tag}-{uuid.uuid4().hex}",
        "labels": {"bench": tag},
        "params": {"argv": ["true"]},
    }


def submit(client: httpx.Client, base: str, tag: str) -> str:
    r = client.post(f"{base}/api/v1/jobs", json=job_body(tag))
    if r.status_code != 201:
        raise SystemExit(f"submission refused: {r.status_code} {r.text[:500]}")
    return str(r.json()["id"])


def wait_terminal(
    client: httpx.Client, base: str, job_id: str, poll_s: float, timeout_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = client.get(f"{base}/api/v1/jobs/{job_id}").json()
        if job["state"] in TERMINAL:
            if job["state"] != "succeeded":
                raise SystemExit(f"job {job_id} ended {job['state']}: {job.get('failure')}")
            return job
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} still {job['state']} after {timeout_s} s")
        time.sleep(poll_s)


@dataclass
class Latency:
    total: list[float]  # client side: POST sent -> succeeded seen
    admit: list[float]  # server side: created -> provisioning
    start: list[float]  # provisioning -> running (work area + process spawn)
    run: list[float]  # running -> succeeded (the job process, plus poll detection)


def phases(client: httpx.Client, base: str, job: dict[str, Any]) -> tuple[float, float, float]:
    events = client.get(f"{base}/api/v1/jobs/{job['id']}/events").json()["events"]
    at = {e["to_state"]: datetime.fromisoformat(e["at"]) for e in events}
    created = datetime.fromisoformat(job["created_at"])
    return (
        (at["provisioning"] - created).total_seconds(),
        (at["running"] - at["provisioning"]).total_seconds(),
        (at["succeeded"] - at["running"]).total_seconds(),
    )


def sequential_latency(base: str, n: int, poll_s: float) -> Latency:
    lat = Latency([], [], [], [])
    with httpx.Client(timeout=30) as client:
        wait_terminal(client, base, submit(client, base, "warmup"), poll_s, 120)
        for _ in range(n):
            sent = time.perf_counter()
            job = wait_terminal(client, base, submit(client, base, "latency"), poll_s, 120)
            lat.total.append(time.perf_counter() - sent)
            admit, start, run = phases(client, base, job)
            lat.admit.append(admit)
            lat.start.append(start)
            lat.run.append(run)
    return lat


def concurrent_submissions(base: str, n: int, clients: int) -> tuple[float, list[str]]:
    """POST ``n`` jobs from ``clients`` threads; (seconds taken, job ids)."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    with httpx.Client(timeout=60, limits=limits) as client:
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            ids = list(pool.map(lambda _i: submit(client, base, "burst"), range(n)))
        return time.perf_counter() - start, ids


def drain(base: str, ids: Sequence[str], timeout_s: float) -> float:
    """Wait for every job to succeed; seconds from now until the last did."""
    start = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for job_id in ids:
            wait_terminal(client, base, job_id, 0.1, timeout_s)
    return time.perf_counter() - start


def floor_s(runs: int = 5) -> float:
    """Median wall time of starting the job process itself (``python -m vatti.runtime --help``)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "vatti.runtime", "--help"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def ms(value: float) -> str:
    return f"{value * 1000:.0f}"


def run_backend(name: str, args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vatti-bench-")))
        url = stack.enter_context(postgres_database()) if name == "postgres" else None
        base = stack.enter_context(server(tmp, url))
        lat = sequential_latency(base, args.latency_jobs, args.poll_ms / 1000)
        elapsed, ids = concurrent_submissions(base, args.jobs, args.clients)
        drained = drain(base, ids, timeout_s=max(300.0, args.jobs * 5.0))
    med = statistics.median
    print(
        f"{name:<9} {args.jobs / elapsed:>9.1f} {len(ids) / drained:>8.2f}"
        f" {ms(med(lat.total)):>7} {ms(p95(lat.total)):>7}"
        f" {ms(med(lat.admit)):>6} {ms(med(lat.start)):>6} {ms(med(lat.run)):>6}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100, help="jobs in the concurrent burst")
    parser.add_argument("--clients", type=int, default=8, help="concurrent submitting clients")
    parser.add_argument("--latency-jobs", type=int, default=20, help="sequential jobs timed")
    parser.add_argument("--poll-ms", type=float, default=10.0, help="GET interval when waiting")
    parser.add_argument("--backend", default="sqlite,postgres", help="comma-separated")
    args = parser.parse_args()

    print(
        f"server: {' '.join(f'{k}={v}' for k, v in SERVER_ENV.items())}; "
        f"burst {args.jobs} jobs from {args.clients} clients; "
        f"latency over {args.latency_jobs} sequential jobs, polled every {args.poll_ms:g} ms"
    )
    print(f"floor: one start of the job process (python -m vatti.runtime) = {ms(floor_s())} ms")
    print(
        f"{'backend':<9} {'submit/s':>9} {'drain/s':>8} {'med ms':>7} {'p95 ms':>7}"
        f" {'admit':>6} {'start':>6} {'run':>6}"
    )
    for name in args.backend.split(","):
        run_backend(name.strip(), args)
    print(
        "submit/s: POSTs accepted per second; drain/s: burst jobs finished per second;\n"
        "med/p95 ms: POST -> succeeded seen by the client; admit/start/run: server-side medians\n"
        "of created -> provisioning -> running -> succeeded (ms)"
    )


if __name__ == "__main__":
    main()
