"""One contract for every JobStore implementation, run on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from vatti.domain.errors import InvalidTransition
from vatti.domain.failure import Failure
from vatti.domain.jobs import Job, JobEventRecord
from vatti.domain.states import Effect, JobEvent, JobState
from vatti.secretbox import SecretBox, new_key
from vatti.store.base import Changes, JobStore, NewJob, Notification, NotifyBuilder
from vatti.store.errors import InvalidCursor, JobNotFound
from vatti.store.memory import MemoryJobStore
from vatti.store.sql import open_store

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[JobStore]:
    s: JobStore
    if request.param == "memory":
        s = MemoryJobStore()
    else:
        url = request.getfixturevalue(f"{request.param}_database_url")
        s = open_store(url, secrets=SecretBox([new_key()]), pool_size=60, max_overflow=0)
    try:
        yield s
    finally:
        s.close()


def new(
    n: int = 0,
    client_id: str | None = None,
    pipeline: str = "pgs",
    tenant: str = "default",
    actor: str | None = None,
) -> NewJob:
    return NewJob(
        pipeline=pipeline,
        spec={"pipeline": pipeline, "params": {"n": n}},
        fingerprint=f"{n:064x}",
        client_id=client_id,
        tenant=tenant,
        actor=actor,
    )


def to(*destinations: str) -> NotifyBuilder:
    def build(job: Job, record: JobEventRecord) -> list[Notification]:
        return [
            Notification("webhook", d, {"job": job.id, "seq": record.seq, "state": record.to_state})
            for d in destinations
        ]

    return build


def submit(store: JobStore, n: int = 0, at: datetime = T0, **kw: Any) -> Job:
    return store.submit(new(n, **kw), now=at, dedup_window_s=60).job


# -- submit -----------------------------------------------------------------------------------


def test_submit_creates_queued_job_with_events_and_outbox(store: JobStore) -> None:
    result = store.submit(new(1), now=T0, dedup_window_s=60, notify=to("a", "b"))
    job = result.job
    assert result.created
    assert result.conflict is None
    assert job.state is JobState.QUEUED
    assert job.created_at == job.queued_at == T0
    assert store.get(job.id) == job
    events = store.events(job.id)
    assert [(e.seq, e.from_state, e.to_state, e.event) for e in events] == [
        (1, None, JobState.REQUESTED, JobEvent.SUBMIT),
        (2, JobState.REQUESTED, JobState.QUEUED, JobEvent.ACCEPT),
    ]
    messages = store.outbox_for(job.id)
    assert [(m.event_id, m.destination) for m in messages] == [
        (events[0].id, "a"),
        (events[0].id, "b"),
        (events[1].id, "a"),
        (events[1].id, "b"),
    ]
    assert messages[3].payload == {"job": job.id, "seq": 2, "state": "queued"}


def test_times_come_back_aware_utc(store: JobStore) -> None:
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    job = submit(store, at=plus_two)
    assert job.created_at.utcoffset() == timedelta(0)
    got = store.get(job.id)
    assert got.created_at == T0
    assert got.created_at.utcoffset() == timedelta(0)


def test_client_id_conflict_returns_existing(store: JobStore) -> None:
    first = store.submit(new(1, client_id="c-1"), now=T0, dedup_window_s=60)
    other = store.submit(new(2, client_id="c-1"), now=T0, dedup_window_s=60)
    assert first.created
    assert not other.created
    assert other.conflict == "client_id"
    assert other.job == first.job
    assert store.get_by_client_id("c-1") == first.job
    assert store.get_by_client_id("c-2") is None
    assert len(store.events(first.job.id)) == 2


def test_fingerprint_dedup_within_window_only(store: JobStore) -> None:
    first = store.submit(new(1), now=T0, dedup_window_s=60)
    again = store.submit(new(1), now=T0 + timedelta(seconds=59), dedup_window_s=60)
    assert (again.created, again.conflict, again.job.id) == (False, "fingerprint", first.job.id)
    later = store.submit(new(1), now=T0 + timedelta(seconds=61), dedup_window_s=60)
    assert later.created
    assert later.job.id != first.job.id
    # the window now belongs to the newer job
    dup = store.submit(new(1), now=T0 + timedelta(seconds=62), dedup_window_s=60)
    assert dup.job.id == later.job.id
    assert store.prune_dedup(T0 + timedelta(seconds=200)) == 1


@pytest.mark.parametrize("event", [JobEvent.FAIL, JobEvent.CANCEL])
def test_a_failed_or_cancelled_request_runs_again_when_resent(
    store: JobStore, event: JobEvent
) -> None:
    first = store.submit(new(3), now=T0, dedup_window_s=600)
    changes = (
        Changes(failure=Failure("pipeline_failed", "boom")) if event is JobEvent.FAIL else None
    )
    store.transition(first.job.id, event, now=T0 + timedelta(seconds=1), changes=changes)
    retry = _concurrently(
        10, lambda: store.submit(new(3), now=T0 + timedelta(seconds=2), dedup_window_s=600)
    )
    assert sum(r.created for r in retry) == 1
    assert len({r.job.id for r in retry}) == 1
    assert first.job.id not in {r.job.id for r in retry}


def test_no_dedup_with_zero_window_or_client_id(store: JobStore) -> None:
    a = store.submit(new(1), now=T0, dedup_window_s=0)
    b = store.submit(new(1), now=T0, dedup_window_s=0)
    c = store.submit(new(1, client_id="x"), now=T0, dedup_window_s=60)
    assert [a.created, b.created, c.created] == [True, True, True]
    assert len({a.job.id, b.job.id, c.job.id}) == 3


def _concurrently(n: int, call: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(n)

    def run() -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda _: run(), range(n)))


@pytest.mark.parametrize("client_id", [None, "same-client-id"])
def test_fifty_concurrent_identical_submits_create_one_job(
    store: JobStore, client_id: str | None
) -> None:
    results = _concurrently(
        50, lambda: store.submit(new(7, client_id=client_id), now=T0, dedup_window_s=60)
    )
    assert sum(r.created for r in results) == 1
    assert len({r.job.id for r in results}) == 1
    assert {r.conflict for r in results if not r.created} == {
        "fingerprint" if client_id is None else "client_id"
    }
    assert store.count_in_states(list(JobState)) == 1


# -- tenants and actors -----------------------------------------------------------------------


def test_client_ids_and_fingerprints_are_per_tenant(store: JobStore) -> None:
    a = store.submit(new(1, client_id="c-1", tenant="lab-a"), now=T0, dedup_window_s=60)
    b = store.submit(new(1, client_id="c-1", tenant="lab-b"), now=T0, dedup_window_s=60)
    again = store.submit(new(2, client_id="c-1", tenant="lab-b"), now=T0, dedup_window_s=60)
    assert (a.created, b.created, again.created) == (True, True, False)
    assert again.job == b.job
    assert store.get_by_client_id("c-1", "lab-a") == a.job
    assert store.get_by_client_id("c-1", "lab-b") == b.job
    assert store.get_by_client_id("c-1") is None  # the default tenant has none
    x = store.submit(new(9, tenant="lab-a"), now=T0, dedup_window_s=60)
    y = store.submit(new(9, tenant="lab-b"), now=T0, dedup_window_s=60)
    z = store.submit(new(9, tenant="lab-b"), now=T0, dedup_window_s=60)
    assert (x.created, y.created, z.created) == (True, True, False)
    assert z.job.id == y.job.id != x.job.id
    assert (store.get(x.job.id).tenant, store.get(y.job.id).tenant) == ("lab-a", "lab-b")


def test_list_by_tenant(store: JobStore) -> None:
    a = submit(store, 1, tenant="lab-a")
    b = submit(store, 2, tenant="lab-b", at=T0 + timedelta(seconds=1))
    assert [j.id for j in store.list_jobs(tenant="lab-a").items] == [a.id]
    assert [j.id for j in store.list_jobs(tenant="lab-b", pipeline="pgs").items] == [b.id]
    assert store.list_jobs(tenant="nobody").items == []
    assert [j.id for j in store.list_jobs().items] == [b.id, a.id]


def test_every_row_names_its_actor(store: JobStore) -> None:
    job = submit(store, 1, actor="token:t1")
    store.transition(job.id, JobEvent.ADMIT, now=T0)
    store.transition(job.id, JobEvent.CANCEL, now=T0, actor="oidc:alice")
    assert [(e.event, e.actor) for e in store.events(job.id)] == [
        (JobEvent.SUBMIT, "token:t1"),
        (JobEvent.ACCEPT, "token:t1"),
        (JobEvent.ADMIT, "engine"),
        (JobEvent.CANCEL, "oidc:alice"),
    ]


def test_an_audit_row_changes_no_state_and_takes_the_next_seq(store: JobStore) -> None:
    job = submit(store, 1)
    record = store.record_event(
        job.id, JobEvent.DOWNLOAD_OUTPUT, now=T0, actor="token:t2", detail={"name": "a.tsv"}
    )
    assert (record.seq, record.from_state, record.to_state) == (3, JobState.QUEUED, JobState.QUEUED)
    moved = store.transition(job.id, JobEvent.ADMIT, now=T0 + timedelta(seconds=1))
    assert moved.record.seq == 4  # the engine's next transition follows it
    events = store.events(job.id)
    assert events[2] == record
    assert events[2].detail == {"name": "a.tsv"}
    assert store.get(job.id).state is JobState.PROVISIONING
    assert store.outbox_for(job.id) == []  # an access notifies nobody
    with pytest.raises(ValueError, match="transition"):
        store.record_event(job.id, JobEvent.CANCEL, now=T0, actor="x")
    with pytest.raises(JobNotFound):
        store.record_event("nope", JobEvent.DOWNLOAD_LOG, now=T0, actor="x")


# -- transitions ------------------------------------------------------------------------------


def test_lifecycle_to_success(store: JobStore) -> None:
    job = submit(store)
    t1, t2, t3 = (T0 + timedelta(seconds=s) for s in (1, 2, 3))
    admitted = store.transition(job.id, JobEvent.ADMIT, now=t1, notify=to("a"))
    assert admitted.job.state is JobState.PROVISIONING
    assert admitted.job.attempt == 1
    assert admitted.effects == (Effect.PROVISION, Effect.SUBMIT, Effect.NOTIFY)
    started = store.transition(
        job.id, JobEvent.START, now=t2, changes=Changes(executor="local", handle='{"pid":1}')
    )
    assert (started.job.executor, started.job.executor_handle) == ("local", '{"pid":1}')
    assert started.job.started_at == t2
    done = store.transition(job.id, JobEvent.SUCCEED, now=t3)
    assert done.job.state is JobState.SUCCEEDED
    assert done.job.finished_at == t3
    assert done.record.seq == 5
    assert store.get(job.id) == done.job
    assert [e.to_state for e in store.events(job.id)][2:] == [
        JobState.PROVISIONING,
        JobState.RUNNING,
        JobState.SUCCEEDED,
    ]
    assert len(store.outbox_for(job.id)) == 1


def test_failure_is_recorded(store: JobStore) -> None:
    job = submit(store)
    store.transition(job.id, JobEvent.ADMIT, now=T0)
    failure = Failure("pipeline_failed", "exit 3", step="command", exit_code=3)
    result = store.transition(job.id, JobEvent.FAIL, now=T0, changes=Changes(failure=failure))
    assert store.get(job.id).failure == failure == result.job.failure
    assert result.record.detail == {"failure": failure.to_dict()}
    assert Effect.DELETE_RESULTS in result.effects


def test_invalid_transition_names_actual_state_and_writes_nothing(store: JobStore) -> None:
    job = submit(store)
    with pytest.raises(InvalidTransition, match="queued"):
        store.transition(job.id, JobEvent.SUCCEED, now=T0, notify=to("a"))
    assert store.get(job.id) == job
    assert len(store.events(job.id)) == 2
    assert store.outbox_for(job.id) == []


def test_concurrent_writers_one_wins(store: JobStore) -> None:
    job = submit(store)

    def admit() -> str:
        try:
            store.transition(job.id, JobEvent.ADMIT, now=T0, notify=to("a"))
        except InvalidTransition as exc:
            return f"refused in {exc.state}"
        return "won"

    outcomes = _concurrently(20, admit)
    assert sorted(outcomes) == ["refused in provisioning"] * 19 + ["won"]
    assert store.get(job.id).attempt == 1
    assert len(store.events(job.id)) == 3
    assert len(store.outbox_for(job.id)) == 1


def test_event_and_outbox_are_atomic_with_the_state(store: JobStore) -> None:
    job = submit(store)

    def broken(job: Job, record: JobEventRecord) -> list[Notification]:
        raise RuntimeError("payload builder failed")

    with pytest.raises(RuntimeError):
        store.transition(job.id, JobEvent.ADMIT, now=T0, notify=broken)
    assert store.get(job.id).state is JobState.QUEUED
    assert len(store.events(job.id)) == 2
    assert store.outbox_for(job.id) == []


def test_unknown_job(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.get("nope")
    with pytest.raises(JobNotFound):
        store.events("nope")
    with pytest.raises(JobNotFound):
        store.transition("nope", JobEvent.ADMIT, now=T0)
    with pytest.raises(JobNotFound):
        store.set_handle("nope", "local", "h", now=T0)


# -- queries ----------------------------------------------------------------------------------


def test_pagination_is_stable_newest_first(store: JobStore) -> None:
    jobs = [submit(store, n, at=T0 + timedelta(seconds=n // 3)) for n in range(10)]
    expected = [j.id for j in sorted(jobs, key=lambda j: (j.created_at, j.id), reverse=True)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.list_jobs(limit=3, cursor=cursor)
        seen += [j.id for j in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        submit(store, 100 + pages, at=T0 + timedelta(hours=1))  # newer jobs do not shift pages
    assert seen == expected
    assert pages == 4


def test_list_filters(store: JobStore) -> None:
    a = submit(store, 1, pipeline="pgs")
    b = submit(store, 2, pipeline="command")
    c = submit(store, 3, pipeline="pgs")
    store.transition(c.id, JobEvent.CANCEL, now=T0)
    assert [j.id for j in store.list_jobs(pipeline="pgs").items] == sorted([a.id, c.id])[::-1]
    assert [j.id for j in store.list_jobs(state=JobState.CANCELLED).items] == [c.id]
    queued = store.list_jobs(state=[JobState.QUEUED], pipeline="command").items
    assert [j.id for j in queued] == [b.id]
    with pytest.raises(InvalidCursor):
        store.list_jobs(cursor="garbage!")


def test_fifo_and_state_queries(store: JobStore) -> None:
    jobs = [submit(store, n, at=T0 + timedelta(seconds=10 - n)) for n in range(4)]
    fifo = [j.id for j in reversed(jobs)]
    assert [j.id for j in store.next_queued(10)] == fifo
    assert [j.id for j in store.next_queued(2)] == fifo[:2]
    store.transition(jobs[0].id, JobEvent.ADMIT, now=T0)
    active = [JobState.PROVISIONING, JobState.RUNNING]
    assert store.count_in_states(active) == 1
    assert [j.id for j in store.jobs_in_states(active)] == [jobs[0].id]
    assert store.count_in_states([JobState.QUEUED]) == 3


def test_counts_by_tenant(store: JobStore) -> None:
    submit(store, 1, tenant="lab-a")
    submit(store, 2, tenant="lab-b")
    submit(store, 3, tenant="lab-b")
    assert store.count_in_states([JobState.QUEUED]) == 3
    assert store.count_in_states([JobState.QUEUED], tenant="lab-b") == 2
    assert store.count_in_states([JobState.QUEUED], tenant="lab-c") == 0


def test_results_expiry(store: JobStore) -> None:
    a, b = submit(store, 1), submit(store, 2)
    store.set_results_expiry(a.id, T0 + timedelta(days=1), now=T0)
    store.set_results_expiry(b.id, T0 + timedelta(days=3), now=T0)
    assert [j.id for j in store.expired_results(T0 + timedelta(days=2))] == [a.id]
    store.mark_results_deleted(a.id, now=T0 + timedelta(days=2))
    assert store.get(a.id).results_deleted_at == T0 + timedelta(days=2)
    assert store.expired_results(T0 + timedelta(days=2)) == []


# -- outbox -----------------------------------------------------------------------------------


def _job_with_messages(store: JobStore, n: int, *destinations: str) -> Job:
    job = store.submit(new(n), now=T0, dedup_window_s=60, notify=to(*destinations)).job
    store.transition(job.id, JobEvent.ADMIT, now=T0, notify=to(*destinations))
    return job


def test_outbox_delivers_in_order_per_job_and_destination(store: JobStore) -> None:
    job = _job_with_messages(store, 1, "a", "b")
    ids = {d: [m.id for m in store.outbox_for(job.id) if m.destination == d] for d in "ab"}
    assert [len(ids["a"]), len(ids["b"])] == [3, 3]  # submit, accept, admit
    claimed = store.claim_outbox(T0, limit=10, lease_s=30)
    assert sorted(m.id for m in claimed) == sorted([ids["a"][0], ids["b"][0]])
    # claimed messages are leased; their successors wait
    assert store.claim_outbox(T0, limit=10, lease_s=30) == []
    later = T0 + timedelta(seconds=5)
    store.mark_failed(ids["a"][0], "503", next_attempt_at=T0 + timedelta(seconds=60))
    store.mark_delivered(ids["b"][0], later)
    assert [m.id for m in store.claim_outbox(later, limit=10, lease_s=30)] == [ids["b"][1]]
    store.mark_delivered(ids["b"][1], later)
    retry_at = T0 + timedelta(seconds=61)
    retried = store.claim_outbox(retry_at, limit=10, lease_s=30)
    assert [(m.id, m.attempts, m.last_error) for m in retried] == [
        (ids["a"][0], 1, "503"),
        (ids["b"][2], 0, None),
    ]
    store.mark_dead(ids["a"][0], "410 gone", retry_at)
    assert [m.id for m in store.claim_outbox(retry_at, limit=10, lease_s=30)] == [ids["a"][1]]


def test_outbox_lease_expires(store: JobStore) -> None:
    job = _job_with_messages(store, 1, "a")
    first = store.claim_outbox(T0, limit=10, lease_s=30)
    assert store.claim_outbox(T0 + timedelta(seconds=29), limit=10, lease_s=30) == []
    again = store.claim_outbox(T0 + timedelta(seconds=30), limit=10, lease_s=30)
    assert [m.id for m in again] == [m.id for m in first] == [store.outbox_for(job.id)[0].id]


def test_concurrent_claimers_get_disjoint_messages(store: JobStore) -> None:
    for n in range(12):
        _job_with_messages(store, n, "a")
    batches = _concurrently(6, lambda: store.claim_outbox(T0, limit=3, lease_s=30))
    ids = [m.id for batch in batches for m in batch]
    assert len(ids) == len(set(ids)) == 12
    assert len({m.job_id for batch in batches for m in batch}) == 12


# -- leases -----------------------------------------------------------------------------------


def test_leases(store: JobStore) -> None:
    assert store.acquire_lease("sweeper", "A", 10, T0)
    assert not store.acquire_lease("sweeper", "B", 10, T0 + timedelta(seconds=5))
    assert store.acquire_lease("sweeper", "A", 10, T0 + timedelta(seconds=5))  # renew
    assert not store.acquire_lease("sweeper", "B", 10, T0 + timedelta(seconds=14))
    assert store.acquire_lease("sweeper", "B", 10, T0 + timedelta(seconds=15))
    store.release_lease("sweeper", "A")  # not the holder: no effect
    assert not store.acquire_lease("sweeper", "A", 10, T0 + timedelta(seconds=16))
    assert store.lease_holders() == {"sweeper": "B"}
    store.release_lease("sweeper", "B")
    assert store.lease_holders() == {}
    assert store.acquire_lease("sweeper", "A", 10, T0 + timedelta(seconds=16))


def test_concurrent_lease_has_one_holder(store: JobStore) -> None:
    names = [f"h{i}" for i in range(10)]
    it = iter(names)
    lock = threading.Lock()

    def take() -> bool:
        with lock:
            me = next(it)
        return store.acquire_lease("admission", me, 30, T0)

    assert sum(_concurrently(10, take)) == 1
