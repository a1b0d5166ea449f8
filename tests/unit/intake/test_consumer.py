"""The intake's pass over a batch: each message stored (or refused) before its offset is
committed; a duplicate INTP id creates and sends nothing; a transient failure puts the consumer
back at the message; jobs queue (nothing waits for a slot)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from vatti.domain.states import JobState
from vatti.errors import VattiError
from vatti.intake.consumer import IntakeConfig, KafkaIntake
from vatti.pipelines.base import default_registry
from vatti.service.jobs import JobService, NoWakeups
from vatti.store.memory import MemoryJobStore
from vatti.testing.jobs import NoLogs, NoResults
from vatti.testing.messages import hattivatti_message

pytestmark = pytest.mark.unit

CONFIG = IntakeConfig("launch", "status", "dead", "vatti", "lab")
PARTITION = ("launch", 0)


@dataclass(frozen=True)
class Record:
    offset: int
    value: bytes
    topic: str = "launch"
    partition: int = 0
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class FakeConsumer:
    """One partition's records; the position moves as they are read, commits are recorded with
    the number of jobs stored at that moment."""

    records: list[Record]
    store: MemoryJobStore
    position: int = 0
    commits: list[tuple[int, int]] = field(default_factory=list)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, list[Record]]:
        batch = self.records[self.position : self.position + max_records]
        self.position += len(batch)
        return {PARTITION: batch} if batch else {}

    def seek(self, partition: Any, offset: int) -> None:
        assert partition == PARTITION
        self.position = offset

    async def commit(self, offsets: dict[Any, int]) -> None:
        jobs = len(self.store.list_jobs(limit=100).items)
        self.commits.append((offsets[PARTITION], jobs))


Sent = tuple[str, bytes, str | bytes | None, list[tuple[str, bytes]]]


@dataclass
class FakeLink:
    consumer_: FakeConsumer
    sent: list[Sent] = field(default_factory=list)

    def attach(self) -> None:
        pass

    def consumer(self, topic: str, group_id: str) -> FakeConsumer:
        assert (topic, group_id) == ("launch", "vatti")
        return self.consumer_

    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | bytes | None = None,
        headers: Any = (),
    ) -> None:
        self.sent.append((topic, value, key, list(headers)))

    async def close(self) -> None:
        pass


def intake(*values: bytes | dict[str, Any]) -> tuple[KafkaIntake, FakeConsumer, FakeLink]:
    store = MemoryJobStore()
    jobs = JobService(
        store=store,
        registry=default_registry(),
        results=NoResults(),
        logs=NoLogs(),
        wakeups=NoWakeups(),
    )
    records = [
        Record(n, v if isinstance(v, bytes) else json.dumps(v).encode())
        for n, v in enumerate(values)
    ]
    consumer = FakeConsumer(records, store)
    link = FakeLink(consumer)
    return KafkaIntake(link, jobs, CONFIG, logging.getLogger("test")), consumer, link  # type: ignore[arg-type]


async def test_each_message_is_stored_before_its_offset_is_committed() -> None:
    first, second = hattivatti_message("INTP00000001"), hattivatti_message("INTP00000002")
    consumer_intake, consumer, link = intake(first, hattivatti_message("INTP00000001"), second)

    await consumer_intake.step()

    assert consumer.commits == [(1, 1), (2, 1), (3, 2)]  # the duplicate created nothing
    assert link.sent == []  # ... and sent nothing
    jobs = consumer_intake.jobs.store.list_jobs(limit=10).items
    assert sorted(j.client_id or "" for j in jobs) == ["INTP00000001", "INTP00000002"]
    assert {j.state for j in jobs} == {JobState.QUEUED}  # queued: nothing waits for a slot
    assert {j.tenant for j in jobs} == {"lab"}


async def test_unknown_top_level_fields_are_ignored() -> None:
    consumer_intake, consumer, link = intake(hattivatti_message(requester="portal", extra=1))

    await consumer_intake.step()

    assert consumer.commits == [(1, 1)]
    assert link.sent == []


async def test_an_invalid_message_is_dead_lettered_and_failed_before_its_commit() -> None:
    invalid = hattivatti_message("INTP00000009")
    invalid["pipeline_param"]["target_genomes"] = "nope"
    consumer_intake, consumer, link = intake(invalid, b"[1, 2]")

    await consumer_intake.step()

    assert consumer.commits == [(1, 0), (2, 0)]
    topics = [(topic, key) for topic, _, key, _ in link.sent]
    assert topics == [("dead", None), ("status", "INTP00000009"), ("dead", None)]
    headers = dict(link.sent[0][3])
    assert b"pipeline_param.target_genomes" in headers["vatti-error-details"]
    assert headers["vatti-source"] == b"launch/0/0"
    status = json.loads(link.sent[1][1])
    assert (status["run_name"], status["event"]) == ("INTP00000009", "Failed")
    assert dict(link.sent[2][3])["vatti-error"] == b"the message is not a JSON object"


class Unavailable(VattiError):
    transient = True


async def test_a_transient_failure_reads_the_message_again() -> None:
    consumer_intake, consumer, _ = intake(hattivatti_message("INTP00000001"))
    submit = consumer_intake.jobs.submit
    calls = []

    def flaky(raw: Any, *, caller: Any) -> Any:
        calls.append(raw)
        if len(calls) == 1:
            raise Unavailable("the database is locked")
        return submit(raw, caller=caller)

    consumer_intake.jobs.submit = flaky  # type: ignore[method-assign]

    with pytest.raises(Unavailable):
        await consumer_intake.step()
    assert (consumer.commits, consumer.position) == ([], 0)

    await consumer_intake.step()
    assert consumer.commits == [(1, 1)]


async def test_an_invalid_message_of_a_known_run_sends_no_failed_for_it() -> None:
    invalid = hattivatti_message("INTP00000001")
    invalid["pipeline_param"]["target_genomes"] = "nope"
    consumer_intake, consumer, link = intake(hattivatti_message("INTP00000001"), invalid)

    await consumer_intake.step()

    assert consumer.commits == [(1, 1), (2, 1)]
    assert [topic for topic, *_ in link.sent] == ["dead"]  # the run's statuses are its job's


async def test_a_failure_reads_every_unhandled_message_again_in_every_partition() -> None:
    consumer_intake, consumer, _ = intake(
        hattivatti_message("INTP00000001"), hattivatti_message("INTP00000002")
    )
    other = ("launch", 1)
    extra = Record(0, json.dumps(hattivatti_message("INTP00000003")).encode(), partition=1)
    seeks: list[tuple[Any, int]] = []
    batch = {PARTITION: consumer.records, other: [extra]}

    async def getmany(timeout_ms: int, max_records: int) -> dict[Any, list[Record]]:
        return batch

    consumer.getmany = getmany  # type: ignore[method-assign]
    consumer.seek = lambda partition, offset: seeks.append((partition, offset))  # type: ignore[method-assign]
    submit = consumer_intake.jobs.submit

    def second_fails(raw: Any, *, caller: Any) -> Any:
        if raw["pipeline_param"]["id"] == "INTP00000002":
            raise Unavailable("the database is locked")
        return submit(raw, caller=caller)

    consumer_intake.jobs.submit = second_fails  # type: ignore[method-assign]

    with pytest.raises(Unavailable):
        await consumer_intake.step()

    assert consumer.commits == [(1, 1)]
    assert seeks == [(PARTITION, 1), (other, 0)]  # the failed one, and the one not reached
