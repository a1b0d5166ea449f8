"""The ownership contract of every JobStore: global admission claims and per-job leases.

Run on the in-memory store, SQLite and PostgreSQL; the race between processes runs on the SQL
stores (the claim must hold across processes, not only threads).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from tests.integration.store.racing import race

from vatti.domain.states import JobEvent, JobState
from vatti.store.base import JobStore, NewJob
from vatti.store.memory import MemoryJobStore
from vatti.store.sql import open_store

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TTL = 30.0


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[JobStore]:
    s: JobStore
    if request.param == "memory":
        s = MemoryJobStore()
    else:
        s = open_store(request.getfixturevalue(f"{request.param}_database_url"))
    try:
        yield s
    finally:
        s.close()


def queue(store: JobStore, n: int) -> list[str]:
    ids = []
    for i in range(n):
        new = NewJob(pipeline="command", spec={"i": i}, fingerprint=f"{i:064x}")
        ids.append(store.submit(new, now=T0 + timedelta(seconds=i), dedup_window_s=0).job.id)
    return ids


def admit(store: JobStore, ids: list[str], at: datetime = T0) -> None:
    for job_id in ids:
        store.transition(job_id, JobEvent.ADMIT, now=at)


def claim(store: JobStore, holder: str, limit: int, at: datetime = T0) -> list[str]:
    return [j.id for j in store.claim_queued(holder, max_active=limit, ttl_s=TTL, now=at)]


def test_claims_the_oldest_queued_jobs_up_to_the_global_limit(store: JobStore) -> None:
    ids = queue(store, 5)
    assert claim(store, "a", 2) == ids[:2]
    assert claim(store, "b", 2) == []  # a's reservations count while its lease holds
    admit(store, ids[:1])
    assert claim(store, "b", 3) == [ids[2]]
    admit(store, ids[1:3])
    assert claim(store, "a", 3) == claim(store, "b", 3) == []
    store.transition(ids[0], JobEvent.CANCEL, now=T0)  # cancelling still takes a slot
    assert claim(store, "c", 3) == []
    store.transition(ids[0], JobEvent.CANCELLED, now=T0)
    assert claim(store, "c", 3) == [ids[3]]


def test_a_holder_gets_its_own_reservations_back(store: JobStore) -> None:
    ids = queue(store, 3)
    assert claim(store, "a", 2) == ids[:2]
    assert claim(store, "a", 2) == ids[:2]  # e.g. after a failed admission


def test_reservations_of_a_lapsed_holder_return_to_the_queue(store: JobStore) -> None:
    ids = queue(store, 2)
    assert claim(store, "a", 2) == ids
    later = T0 + timedelta(seconds=TTL + 1)
    assert claim(store, "b", 2, at=later) == ids


def test_a_renewed_lease_holds_and_a_lapsed_one_is_adopted(store: JobStore) -> None:
    ids = queue(store, 3)
    claim(store, "a", 3)
    admit(store, ids)
    store.transition(ids[2], JobEvent.CANCEL, now=T0)
    half = T0 + timedelta(seconds=TTL / 2)
    assert store.renew_ownership("a", ttl_s=TTL, now=half) == 3
    assert store.adopt_jobs("b", ttl_s=TTL, now=T0 + timedelta(seconds=TTL + 1)) == []
    lapsed = half + timedelta(seconds=TTL + 1)
    assert sorted(store.adopt_jobs("b", ttl_s=TTL, now=lapsed)) == sorted(ids)
    assert store.job_owners() == {"b"}
    assert store.renew_ownership("a", ttl_s=TTL, now=lapsed) == 0


def test_an_engine_follows_only_its_jobs_and_unowned_ones(store: JobStore) -> None:
    mine, theirs, nobodys = queue(store, 3)
    claim(store, "a", 1)
    claim(store, "b", 2)
    admit(store, [mine, theirs, nobodys])
    provisioning = [JobState.PROVISIONING]
    assert {j.id for j in store.jobs_in_states(provisioning, owner="a")} == {mine, nobodys}
    assert {j.id for j in store.jobs_in_states(provisioning, owner="b")} == {theirs, nobodys}
    assert len(store.jobs_in_states(provisioning)) == 3


def test_dead_owners_are_adopted_at_once_and_a_clean_stop_hands_over(store: JobStore) -> None:
    ids = queue(store, 2)
    claim(store, "dead", 1)
    claim(store, "leaving", 2)
    admit(store, ids)
    assert store.adopt_jobs("b", ttl_s=TTL, now=T0, dead_owners=["dead"]) == [ids[0]]
    assert store.release_ownership("leaving", now=T0) == 1
    assert store.adopt_jobs("b", ttl_s=TTL, now=T0) == [ids[1]]
    assert store.job_owners() == {"b"}


def test_finished_jobs_are_never_adopted(store: JobStore) -> None:
    (job_id,) = queue(store, 1)
    claim(store, "a", 1)
    store.transition(job_id, JobEvent.CANCEL, now=T0)  # queued -> cancelled
    lapsed = T0 + timedelta(seconds=TTL + 1)
    assert store.adopt_jobs("b", ttl_s=TTL, now=lapsed) == []
    assert store.job_owners() == set()


CLAIMER = """
import json, sys
from datetime import UTC, datetime
from vatti.store.sql import open_store

store = open_store(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
jobs = store.claim_queued(sys.argv[2], max_active=int(sys.argv[3]), ttl_s=30, now=now)
print(json.dumps([j.id for j in jobs]), flush=True)
store.close()
"""


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_processes_claiming_at_once_never_exceed_the_limit(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(f"{backend}_database_url")
    store = open_store(url)
    try:
        ids = queue(store, 20)
        admit(store, ids[:1], at=T0)  # one slot already taken
    finally:
        store.close()
    runs = race(CLAIMER, [[url, f"engine-{n}", "4"] for n in range(6)])
    claimed: list[str] = [job_id for run in runs for job_id in run]
    assert len(claimed) == 3  # 4 slots, 1 taken
    assert sorted(claimed) == sorted(ids[1:4])
