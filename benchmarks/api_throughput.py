"""No-op jobs through the HTTP API on default settings, against direct Celery tasks as the peer.

Starts a real ``vatti serve`` (embedded engine, local executor, SQLite, token auth with one
token, every engine setting at its default: 2 slots, 1 s poll interval) and prints, in one run:

- drain: ``--jobs`` jobs of the shipped ``noop`` command (examples/command-noop.json) POSTed at
  once, then the rate at which the server runs them to ``succeeded`` (jobs/s);
- latency: ``--latency-jobs`` sequential jobs on the otherwise idle server, each POSTed then
  watched (``GET`` every ``--poll-ms``): p50 and p95 of POST → ``succeeded`` seen, with the
  server's own medians of queued → admitted → running → succeeded (from the job's events);
- submit p99: ``--clients`` concurrent clients (one token), each its own process, POSTing
  ``--per-client`` jobs back to back on one keep-alive connection: p50/p99 of one POST's latency;
- the peer: ``--jobs`` no-op Celery tasks sent at once to a prefork worker of the same
  concurrency (2) over the machine's Redis, drained per second, and p50/p95 of one task's send →
  result, run by ``_celery_peer.py`` in a side virtualenv (cached by its requirements, created
  once and reused while :data:`CELERY_REQUIREMENTS` is unchanged; ``--no-peer`` skips it).

    .venv/bin/python benchmarks/api_throughput.py [--jobs 200] [--workdir DIR] [--no-peer]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _celery_peer
from _bench_proc import stop

from vatti.testing.side_envs import ensure_side_env

TERMINAL = ("succeeded", "failed", "cancelled")
TOKEN = "bench-token-" + uuid.uuid4().hex
SERVER_ENV = {"VATTI_LOG_LEVEL": "WARNING"}
CELERY_REQUIREMENTS = ("celery==5.4.0", "kombu==5.7.0", "redis==6.2.0", "packaging")
REDIS_URL = os.environ.get("VATTI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(data_dir: Path, settings: Mapping[str, str] | None = None) -> Iterator[str]:
    """``vatti serve`` on a free loopback port until the block ends; yields its base URL.

    ``settings`` (``VATTI_*``) are added to :data:`SERVER_ENV`; no other ``VATTI_*`` variable of
    this process's environment reaches the server."""
    from vatti.api.auth import hash_token

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VATTI_")}
    env.update(SERVER_ENV, VATTI_DATA_DIR=str(data_dir))
    env.update(settings or {})
    env["VATTI_API_TOKENS"] = f"{hash_token(TOKEN)}:submit,read"
    # one token submits thousands: measure the service, not its rate limit
    env["VATTI_SUBMIT_RATE"] = "0"
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
        stop(proc, 30)


def job_body(tag: str) -> dict[str, Any]:
    return {
        "pipeline": "command",
        "client_id": f"bench-{tag}-{uuid.uuid4().hex}",
        "labels": {"bench": tag},
        "params": {"command": "noop"},
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
    with client() as c:
        wait_terminal(c, base, submit(c, base, "warmup"), poll_s, 120)
        for _ in range(n):
            sent = time.perf_counter()
            job = wait_terminal(c, base, submit(c, base, "latency"), poll_s, 120)
            lat.total.append(time.perf_counter() - sent)
            admit, start, run = phases(c, base, job)
            lat.admit.append(admit)
            lat.start.append(start)
            lat.run.append(run)
    return lat


def concurrent_submissions(base: str, n: int, clients: int) -> tuple[float, list[str]]:
    """POST ``n`` jobs from ``clients`` threads; (seconds taken, job ids)."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    with client(limits=limits) as c:
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            ids = list(pool.map(lambda _i: submit(c, base, "burst"), range(n)))
        return time.perf_counter() - start, ids


def drain(base: str, ids: Sequence[str], timeout_s: float) -> float:
    """Wait for every job to succeed; seconds from now until the last did."""
    start = time.perf_counter()
    with client() as c:
        for job_id in ids:
            wait_terminal(c, base, job_id, 0.1, timeout_s)
    return time.perf_counter() - start


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def ms(value: float) -> str:
    return f"{value * 1000:.0f}"


def client(**kwargs: Any) -> httpx.Client:
    return httpx.Client(timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)


def _one_client(args: tuple[str, int, int, str, Any]) -> list[float]:
    """One submitting client (its own process): ``per_client`` POSTs back to back on one
    keep-alive connection, each timed from request sent to response read."""
    host, port, per_client, token, barrier = args
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.connect()
    barrier.wait()  # every client starts together
    times = []
    try:
        for _ in range(per_client):
            body = json.dumps(job_body("p99"))
            t0 = time.perf_counter()
            conn.request("POST", "/api/v1/jobs", body=body, headers=headers)
            answer = conn.getresponse()
            text = answer.read()
            times.append(time.perf_counter() - t0)
            if answer.status != 201:
                raise SystemExit(f"submission refused: {answer.status} {text[:500]!r}")
    finally:
        conn.close()
    return times


def submit_latencies(base: str, clients: int, per_client: int) -> list[float]:
    """``clients`` clients, each its own process, POST ``per_client`` jobs back to back; every
    POST's time. Processes with the standard library's HTTP client, not threads of this one with
    httpx: those cost 2.7 ms of this process's CPU per request, as much as the server's own
    work, and queued on its interpreter lock, so they measured the benchmark, not the server."""
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, spawn.Pool(clients) as pool:
        barrier = manager.Barrier(clients)
        args = [(host, port, per_client, TOKEN, barrier)] * clients
        return [t for times in pool.map(_one_client, args) for t in times]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def ensure_celery() -> Path:
    """The side environment's python (cached by its requirements, see vatti.testing.side_envs)."""
    print(f"side environment: {' '.join(CELERY_REQUIREMENTS)}", flush=True)
    return ensure_side_env("celery-peer", CELERY_REQUIREMENTS) / "python"


def celery_peer(workdir: Path, tasks: int, latency_tasks: int) -> dict[str, float]:
    result: dict[str, float] = _celery_peer.run(
        str(ensure_celery()), REDIS_URL, tasks, latency_tasks, 2
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs drained (and peer tasks)")
    parser.add_argument("--latency-jobs", type=int, default=30, help="sequential jobs timed")
    parser.add_argument("--poll-ms", type=float, default=10.0, help="GET interval when waiting")
    parser.add_argument("--clients", type=int, default=16, help="concurrent submitting clients")
    parser.add_argument("--per-client", type=int, default=25, help="POSTs of each client")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "vatti-bench")
    parser.add_argument("--no-peer", action="store_true", help="skip the Celery peer")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    med = statistics.median

    print("vatti serve: SQLite, local executor, token auth, default engine settings (2 slots)")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vatti-bench-")))
        base = stack.enter_context(server(tmp))
        lat = sequential_latency(base, args.latency_jobs, args.poll_ms / 1000)
        elapsed, ids = concurrent_submissions(base, args.jobs, 4)
        drained = drain(base, ids, timeout_s=max(300.0, args.jobs * 5.0))
        submits = submit_latencies(base, args.clients, args.per_client)
    rate = args.jobs / (elapsed + drained)
    print(
        f"  drain: {args.jobs} no-op jobs at {rate:.1f} jobs/s"
        f" (first POST to last succeeded; the POSTs took {elapsed:.1f} s)"
    )
    print(
        f"  submit -> succeeded ({args.latency_jobs} sequential): p50 {ms(med(lat.total))} ms,"
        f" p95 {ms(p95(lat.total))} ms; server medians: admit {ms(med(lat.admit))} ms,"
        f" start {ms(med(lat.start))} ms, run {ms(med(lat.run))} ms"
    )
    print(
        f"  submit latency, {args.clients} clients x {args.per_client} POSTs, one token:"
        f" p50 {ms(med(submits))} ms, p99 {ms(percentile(submits, 0.99))} ms"
    )
    if args.no_peer:
        return
    peer = celery_peer(args.workdir, args.jobs, args.latency_jobs)
    print(f"celery peer ({', '.join(CELERY_REQUIREMENTS)}, prefork x2, Redis {REDIS_URL}):")
    print(
        f"  drain: {args.jobs} no-op tasks at {peer['drain_per_s']:.1f} tasks/s;"
        f" send -> result p50 {ms(peer['p50_s'])} ms, p95 {ms(peer['p95_s'])} ms"
    )
    print(
        f"ratios vatti/celery: drain {rate / peer['drain_per_s']:.3f},"
        f" p50 latency {med(lat.total) / peer['p50_s']:.1f}x,"
        f" p95 latency {p95(lat.total) / peer['p95_s']:.1f}x"
        " (a vatti job is a process with its own scratch, store rows and notifications;"
        " a Celery no-op task is a function call in a warm worker)"
    )
    print(
        "targets: drain >= 10 jobs/s "
        + ("PASS" if rate >= 10 else "FAIL")
        + f", p50 <= 300 ms {'PASS' if med(lat.total) <= 0.3 else 'FAIL'}"
        + f", p99 submit <= 100 ms {'PASS' if percentile(submits, 0.99) <= 0.1 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
