"""What vatti adds on Celery: no-op jobs through vatti on a Celery worker against no-op tasks.

In one run, on the machine's Redis (one database: ``--redis-url``, or ``VATTI_BENCH_REDIS_URL``):

- vatti: a real ``vatti serve`` (embedded engine, SQLite, ``VATTI_EXECUTOR=celery``,
  ``VATTI_MAX_CONCURRENT_JOBS`` = ``--jobs``, so the worker's slots are the limit, as the peer's)
  and a real ``vatti worker --concurrency N``; one warm-up job, then ``--jobs`` no-op ``command``
  jobs POSTed at once; time from the first POST to the last ``succeeded`` seen. Each job is what
  a user gets: a work area, a claim and status records in the state store, a child process for
  the job runtime (which exits with the job), its log streamed back, its results and events.
- the peer: ``_celery_peer.py`` with vatti's own interpreter (the same Celery), a prefork worker
  of the same concurrency on the same Redis, a result backend there too; one warm-up task, then
  ``--jobs`` no-op tasks sent at once; time from the first send to the last result got.

Prints both times and rates (jobs/s), and the ratio.

    .venv/bin/python benchmarks/celery_overhead.py [--jobs 200] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _celery_peer
from _bench_proc import stop
from api_throughput import (
    client,
    concurrent_submissions,
    drain,
    server,
    submit,
    wait_terminal,
)

from vatti.secretbox import new_key

HERE = Path(__file__).resolve().parent
REDIS_URL = os.environ.get("VATTI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
READY = b"ready."


@contextlib.contextmanager
def vatti_worker(settings: dict[str, str], work: Path, concurrency: int) -> Iterator[None]:
    """``vatti worker`` on the settings' queue until the block ends (warm shutdown after)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VATTI_")}
    env.update(settings, VATTI_DATA_DIR=str(work / "worker"), VATTI_LOG_LEVEL="INFO")
    log_path = work / "worker.log"
    argv = [sys.executable, "-m", "vatti", "worker", "--concurrency", str(concurrency)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while READY not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"vatti worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.05)
        yield
    finally:
        stop(proc, 60)


def through_vatti(redis_url: str, jobs: int, concurrency: int) -> float:
    """Seconds from the first POST to the last succeeded."""
    settings = {
        "VATTI_CELERY_BROKER_URL": redis_url,
        "VATTI_CELERY_SECRETS_KEY": new_key(),
        "VATTI_CELERY_DEFAULT_QUEUE": f"vatti-bench-{uuid.uuid4().hex[:8]}",
    }
    engine = {"VATTI_EXECUTOR": "celery", "VATTI_MAX_CONCURRENT_JOBS": str(max(1, jobs))}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vatti-celery-")))
        stack.enter_context(vatti_worker(settings, work, concurrency))
        data = work / "server"
        data.mkdir()
        base = stack.enter_context(server(data, {**settings, **engine}))
        with client() as c:
            wait_terminal(c, base, submit(c, base, "warmup"), 0.05, 120)
        posting, ids = concurrent_submissions(base, jobs, 4)
        drained = drain(base, ids, timeout_s=max(300.0, jobs * 5.0))
    return posting + drained


def direct_celery(redis_url: str, jobs: int, concurrency: int) -> float:
    """Seconds from the first send of ``jobs`` no-op tasks to the last result."""
    return float(_celery_peer.run(sys.executable, redis_url, jobs, 0, concurrency)["drain_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs through vatti, and tasks")
    parser.add_argument("--concurrency", type=int, default=2, help="each worker's pool processes")
    parser.add_argument("--redis-url", default=REDIS_URL, help="broker (and state store)")
    args = parser.parse_args()
    import celery

    print(
        f"{args.jobs} no-op jobs, one worker of concurrency {args.concurrency} (prefork), "
        f"Celery {celery.__version__}, broker {args.redis_url}, {os.cpu_count()} CPUs"
    )
    ours = through_vatti(args.redis_url, args.jobs, args.concurrency)
    peer = direct_celery(args.redis_url, args.jobs, args.concurrency)
    print(f"  vatti on celery: {ours:.2f} s, {args.jobs / ours:.1f} jobs/s")
    print(f"  direct celery:   {peer:.2f} s, {args.jobs / peer:.1f} tasks/s")
    print(
        f"ratio vatti/celery (time): {ours / peer:.1f}x"
        " (a vatti job is a work area, a claim, status records and its log in the state store,"
        " two forks (its wrapper, the job runtime) and the runtime's work; a no-op task is a"
        " function call in a warm pool process)"
    )


if __name__ == "__main__":
    main()
