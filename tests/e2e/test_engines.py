"""Several ``vatti engine`` processes behind one API-only replica, on one PostgreSQL database.

One ``vatti serve --no-engine`` and two ``vatti engine`` share a database and a data dir. 200
no-op jobs are each launched exactly once, the global concurrency limit holds across both
engines, and all succeed. Then an engine dies holding running jobs (SIGKILL), and another one is
frozen (SIGSTOP, as an engine on a host that vanished: its pid stays alive, so only its lease
can tell) and then killed: the surviving engine takes their jobs over and they finish, none
twice. Figures are printed (``-s``) for the record, never asserted.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.e2e.conftest import wait_for
from tests.e2e.processes import Cluster, Proc

from vatti.secretbox import new_key
from vatti.store.connect import create_db_engine

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

JOBS_TOTAL = 200
LIMIT = 6
LEASE_TTL_S = 2.0
DRAIN_TIMEOUT_S = 240.0
ACTIVE = ("provisioning", "running", "cancelling")


@pytest.fixture
def cluster(tmp_path: Path, postgres_database_url: str) -> Iterator[Cluster]:
    c = Cluster(
        tmp_path,
        VATTI_DATABASE_URL=postgres_database_url,
        VATTI_SECRET_KEY=new_key(),
        VATTI_MAX_CONCURRENT_JOBS=str(LIMIT),
        VATTI_POLL_INTERVAL="0.5",
        VATTI_ENGINE_LEASE_TTL=str(LEASE_TTL_S),
        VATTI_ALLOW_RAW_ARGV="1",  # the sleepers are scripts of the tests
    )
    try:
        yield c
    finally:
        c.stop_all()


@pytest.fixture
def db(postgres_database_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(postgres_database_url)
    yield engine
    engine.dispose()


class ActiveSampler:
    """Samples how many jobs are active (what the limit counts), in a thread."""

    def __init__(self, db: sa.Engine) -> None:
        self.db = db
        self.max = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        query = sa.text("SELECT count(*) FROM jobs WHERE state IN :active").bindparams(
            sa.bindparam("active", expanding=True)
        )
        with self.db.connect() as conn:
            while not self._stop.is_set():
                self.max = max(self.max, int(conn.execute(query, {"active": ACTIVE}).scalar_one()))
                conn.rollback()
                self._stop.wait(0.01)

    def __enter__(self) -> ActiveSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def submit_all(cluster: Cluster, bodies: list[dict[str, Any]]) -> list[str]:
    headers = {"Authorization": f"Bearer {cluster.token}"}
    with httpx.Client(base_url=cluster.url + "/api/v1", headers=headers, timeout=30) as http:

        def one(body: dict[str, Any]) -> str:
            response = http.post("/jobs", json=body)
            assert response.status_code == 201, response.text
            job_id: str = response.json()["id"]
            return job_id

        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(one, bodies))


def noop(i: int) -> dict[str, Any]:
    return {"pipeline": "command", "params": {"command": "noop"}, "labels": {"n": str(i)}}


def states(db: sa.Engine, ids: list[str]) -> dict[str, str]:
    with db.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, state FROM jobs WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        ).all()
    return {str(i): str(s) for i, s in rows}


def owners(db: sa.Engine, ids: list[str]) -> dict[str, str]:
    with db.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, owner FROM jobs WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        ).all()
    return {str(i): str(o) for i, o in rows}


def events(db: sa.Engine, ids: list[str]) -> dict[str, list[tuple[str, datetime]]]:
    out: dict[str, list[tuple[str, datetime]]] = {i: [] for i in ids}
    with db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT job_id, event, at FROM job_events WHERE job_id IN :ids ORDER BY job_id, seq"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": ids},
        ).all()
    for job_id, event, at in rows:
        out[str(job_id)].append((str(event), at))
    return out


def assert_launched_once(db: sa.Engine, ids: list[str]) -> dict[str, list[tuple[str, datetime]]]:
    found = events(db, ids)
    for job_id, evs in found.items():
        counts = Counter(e for e, _ in evs)
        assert counts["admit"] == 1, (job_id, evs)
        assert counts["start"] == 1, (job_id, evs)
    return found


def max_overlap(found: dict[str, list[tuple[str, datetime]]]) -> int:
    """The most jobs active at once, from their admit and final events (one host, one clock)."""
    edges: list[tuple[datetime, int]] = []
    for evs in found.values():
        admitted = next(at for e, at in evs if e == "admit")
        edges += [(admitted, 1), (evs[-1][1], -1)]
    now = peak = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        now += step
        peak = max(peak, now)
    return peak


def at(evs: list[tuple[str, datetime]], event: str) -> float:
    return next(when for e, when in evs if e == event).timestamp()


def holder_pid(holder: str) -> int:
    return int(holder.split(":")[1])


def sleepers(shared: Path, tag: str, n: int, seconds: int) -> tuple[list[dict[str, Any]], Path]:
    """Jobs that append their number to a file, then sleep: a job run twice shows twice.

    The file is made before, writable by every job (each under its own uid when run as root)."""
    ran = shared / f"ran-{tag}.txt"
    ran.touch()
    os.chmod(ran, 0o666)
    bodies = [
        {
            "pipeline": "command",
            "params": {"argv": ["sh", "-c", f"echo {i} >> {ran}; sleep {seconds}"]},
            "labels": {"run": uuid.uuid4().hex},
        }
        for i in range(n)
    ]
    return bodies, ran


def wait_all(db: sa.Engine, ids: list[str], state: str | tuple[str, ...], what: str) -> None:
    wanted = (state,) if isinstance(state, str) else state

    def done() -> bool:
        return all(s in wanted for s in states(db, ids).values())

    wait_for(done, DRAIN_TIMEOUT_S, what, interval=0.05)


def takeover(
    db: sa.Engine, cluster: Cluster, engines: list[Proc], sig: int, tag: str, shared: Path
) -> tuple[float, list[str], Proc]:
    """Submit sleepers; when they run, hit the engine that owns most of them with ``sig``;
    return the takeover delay, the victim's jobs and the victim, once the others own them."""
    bodies, ran = sleepers(shared, tag, LIMIT, 3)
    ids = submit_all(cluster, bodies)
    wait_all(db, ids, "running", f"{tag}: all sleepers running")
    held = Counter(holder_pid(o) for o in owners(db, ids).values())
    victim = max(engines, key=lambda e: held[e.proc.pid])
    mine = [j for j, o in owners(db, ids).items() if holder_pid(o) == victim.proc.pid]
    hit = time.monotonic()
    os.kill(victim.proc.pid, sig)
    if sig == signal.SIGKILL:
        victim.proc.wait(timeout=15)  # reaped, as a supervisor would: this host sees it dead

    def taken() -> bool:
        return all(holder_pid(o) != victim.proc.pid for o in owners(db, mine).values())

    wait_for(taken, DRAIN_TIMEOUT_S, f"{tag}: another engine to take the jobs over")
    delay = time.monotonic() - hit
    if sig == signal.SIGSTOP:
        os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait(timeout=15)
    wait_all(db, ids, ("succeeded", "failed", "cancelled"), f"{tag}: the sleepers to end")
    assert set(states(db, ids).values()) == {"succeeded"}
    found = assert_launched_once(db, ids)
    waits = sorted(at(found[j], "admit") - at(found[j], "accept") for j in ids)
    print(f"\n[{tag}] submit -> admit on idle engines: median {waits[len(waits) // 2]:.3f} s")
    lines = ran.read_text().split()
    assert sorted(lines, key=int) == [str(i) for i in range(LIMIT)], "a job ran twice"
    return delay, mine, victim


def test_two_engines_share_the_queue_and_take_over_a_dead_ones_jobs(
    cluster: Cluster, db: sa.Engine, shared: Path
) -> None:
    cluster.api()
    first, second = cluster.engine("engine-1"), cluster.engine("engine-2")
    for engine in (first, second):
        wait_for(lambda e=engine: "engine.wakeups_listening" in e.log(), 30, "LISTEN")

    began = time.monotonic()
    with ActiveSampler(db) as sampler:
        ids = submit_all(cluster, [noop(i) for i in range(JOBS_TOTAL)])
        wait_all(db, ids, ("succeeded", "failed", "cancelled"), "200 jobs to end")
    drained = time.monotonic() - began
    assert Counter(states(db, ids).values()) == {"succeeded": JOBS_TOTAL}
    found = assert_launched_once(db, ids)
    assert sampler.max <= LIMIT
    assert max_overlap(found) <= LIMIT
    per_engine = Counter(holder_pid(o) for o in owners(db, ids).values())
    assert set(per_engine) == {first.proc.pid, second.proc.pid}  # both took part

    # an engine killed while it holds running jobs: the other one takes them over
    engines = [first, second]
    killed_delay, killed_jobs, killed = takeover(
        db, cluster, engines, signal.SIGKILL, "sigkill", shared
    )
    # an engine frozen (a vanished host): its lease lapses, then its jobs move
    engines = [e for e in engines if e is not killed] + [cluster.engine("engine-3")]
    frozen_delay, frozen_jobs, _ = takeover(db, cluster, engines, signal.SIGSTOP, "sigstop", shared)

    print(
        f"\n[two engines] {JOBS_TOTAL} no-op jobs drained in {drained:.1f} s "
        f"({JOBS_TOTAL / drained:.1f} jobs/s), limit {LIMIT}: max active sampled "
        f"{sampler.max}, from events {max_overlap(found)}; jobs per engine "
        f"{sorted(per_engine.values())}; SIGKILL takeover of {len(killed_jobs)} running jobs "
        f"in {killed_delay:.2f} s (dead pid seen at once); SIGSTOP takeover of "
        f"{len(frozen_jobs)} in {frozen_delay:.2f} s (lease TTL {LEASE_TTL_S:g} s)"
    )
