"""The Celery peer of ``api_throughput.py``: no-op tasks through the machine's Redis.

Run with the side environment's interpreter (Celery is not a dependency of vatti):
``python _celery_peer.py REDIS_URL TASKS LATENCY_TASKS CONCURRENCY``. Starts a prefork worker
with that concurrency on a queue of its own, sends ``TASKS`` no-op tasks at once and times how
fast they drain, then ``LATENCY_TASKS`` one at a time (send → result seen, none when 0);
prints one JSON object. ``celery_overhead.py`` runs it with vatti's own interpreter (the Celery
vatti uses), ``api_throughput.py`` in a side environment.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

TASKS_MODULE = """
from celery import Celery
import os
app = Celery("peer", broker=os.environ["PEER_BROKER"], backend=os.environ["PEER_BROKER"])
app.conf.task_default_queue = os.environ["PEER_QUEUE"]
app.conf.worker_prefetch_multiplier = 1

@app.task
def noop():
    return None
"""


def main(broker: str, tasks: int, latency_tasks: int, concurrency: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="celery-peer-"))
    (work / "peer_tasks.py").write_text(TASKS_MODULE)
    queue = f"vatti-bench-{uuid.uuid4().hex[:8]}"
    os.environ.update(PEER_BROKER=broker, PEER_QUEUE=queue)
    sys.path.insert(0, str(work))
    from peer_tasks import app, noop  # type: ignore[import-not-found]

    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "peer_tasks",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            str(concurrency),
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(work)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        noop.apply_async().get(timeout=120)  # the worker is up
        start = time.perf_counter()
        results = [noop.apply_async() for _ in range(tasks)]
        for r in results:
            r.get(timeout=300)
        drained = time.perf_counter() - start
        latency = []
        for _ in range(latency_tasks):
            sent = time.perf_counter()
            noop.apply_async().get(timeout=60)
            latency.append(time.perf_counter() - sent)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        app.control.purge()
    ordered = sorted(latency)
    print(
        json.dumps(
            {
                "drain_s": drained,
                "drain_per_s": tasks / drained,
                "p50_s": statistics.median(latency) if latency else None,
                "p95_s": ordered[max(0, round(0.95 * len(ordered)) - 1)] if latency else None,
            }
        )
    )


def run(python: str, broker: str, tasks: int, latency_tasks: int, concurrency: int) -> Any:
    """This script run by ``python`` (an interpreter with Celery); its JSON result."""
    done = subprocess.run(
        [python, __file__, broker, str(tasks), str(latency_tasks), str(concurrency)],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise SystemExit(f"the Celery peer failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
