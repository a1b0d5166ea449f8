"""The supervised consumer of hattivatti's job messages: at-least-once in, exactly-once jobs.

Each pass of the engine's ``intake`` loop reads a batch and, message by message, submits it
through the job service as the Kafka caller (:meth:`vatti.domain.access.Caller.kafka`), then
commits the offset past it. The offset is committed only once the job is stored (or the message
refused, its dead letter and ``Failed`` status acknowledged by the brokers): a crash before the
commit makes the group read the message again, and its ``client_id`` (the INTP id) makes the
retry create nothing. A second message with a known INTP id creates nothing and sends nothing.
Submitting only queues the job, so the concurrency limits never stall the consumer.

A transient failure (the database or the brokers) puts the consumer back at the message, and the
supervisor tries the pass again later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vatti.domain.access import Caller
from vatti.domain.times import utcnow
from vatti.engine.logs import log_event
from vatti.errors import VattiError
from vatti.intake import messages
from vatti.intake.kafka import KafkaLink, KafkaUnavailable, broker_errors
from vatti.service.errors import DuplicateClientId
from vatti.service.jobs import JobService

log = logging.getLogger("vatti.intake")

#: the most messages one pass reads, and how long it waits for the first
BATCH = 50
WAIT_MS = 500


class KafkaCommitFailed(KafkaUnavailable):
    """An offset was not committed: its message (handled) is read again, harmlessly."""


@dataclass(frozen=True)
class IntakeConfig:
    consumer_topic: str
    producer_topic: str
    dead_letter_topic: str
    group_id: str
    tenant: str


def refusal(exc: VattiError) -> tuple[str, list[dict[str, str]]]:
    """The reason and the bad fields of a refused message."""
    details: Sequence[Mapping[str, str]] = (
        getattr(exc, "details", None) or getattr(exc, "errors", None) or []
    )
    return exc.message, [{"field": d["field"], "message": d["message"]} for d in details]


class KafkaIntake:
    """The ``intake`` loop's step; ``before_store`` (awaited with each record before its job is
    submitted) lets a test hold the consumer inside that window."""

    def __init__(
        self, link: KafkaLink, jobs: JobService, config: IntakeConfig, logger: logging.Logger
    ) -> None:
        self.link = link
        self.jobs = jobs
        self.config = config
        self.caller = Caller.kafka(config.tenant)
        self.logger = logger
        self.before_store: Callable[[Any], Awaitable[None]] | None = None
        self._consumer: Any = None

    def attach(self) -> None:
        self.link.attach()

    async def _started_consumer(self) -> Any:
        if self._consumer is None:
            consumer = self.link.consumer(self.config.consumer_topic, self.config.group_id)
            try:
                await consumer.start()
            except broker_errors() as exc:
                await consumer.stop()
                raise KafkaUnavailable(
                    f"could not join consumer group {self.config.group_id!r} "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            self._consumer = consumer
            log_event(
                self.logger,
                "intake.started",
                topic=self.config.consumer_topic,
                group=self.config.group_id,
            )
        return self._consumer

    async def step(self) -> None:
        """Read a batch; store (or refuse) and commit each message in turn."""
        consumer = await self._started_consumer()
        try:
            batches = await consumer.getmany(timeout_ms=WAIT_MS, max_records=BATCH)
        except broker_errors() as exc:
            await self._drop_consumer()
            raise KafkaUnavailable(
                f"reading {self.config.consumer_topic!r} failed: {exc}"
            ) from None
        pending = {partition: records for partition, records in batches.items() if records}
        done: dict[Any, int] = {}  # partition -> the offset after its last message handled
        try:
            for partition, records in pending.items():
                for record in records:
                    await self.handle(record)
                    done[partition] = record.offset + 1
                    await self._commit(consumer, partition, record.offset + 1)
        except KafkaCommitFailed:
            raise
        except BaseException:
            # read every message not handled again on the next pass, in every partition
            for partition, records in pending.items():
                consumer.seek(partition, done.get(partition, records[0].offset))
            raise

    async def _commit(self, consumer: Any, partition: Any, offset: int) -> None:
        try:
            await consumer.commit({partition: offset})
        except broker_errors() as exc:  # a new consumer resumes from the committed offsets
            await self._drop_consumer()
            raise KafkaCommitFailed(f"committing the offset failed: {exc}") from None

    async def handle(self, record: Any) -> None:
        """Store the job of one message, or refuse it; return once that is durable."""
        where = f"{record.topic}/{record.partition}/{record.offset}"
        try:
            reading = messages.read_message(record.value)
        except messages.Unreadable as exc:
            await self.refuse(record, str(exc), [], where)
            return
        if reading.ignored:
            log_event(self.logger, "intake.fields_ignored", message=where, fields=reading.ignored)
        if self.before_store is not None:
            await self.before_store(record)
        try:
            submission = await asyncio.to_thread(self.jobs.submit, reading.data, caller=self.caller)
        except DuplicateClientId as exc:
            log_event(
                self.logger,
                "intake.duplicate",
                job_id=exc.job.id,
                message=where,
                run_name=messages.run_name(record.value),
            )
            return
        except VattiError as exc:
            if exc.transient:
                raise
            reason, details = refusal(exc)
            await self.refuse(record, reason, details, where)
            return
        log_event(
            self.logger,
            "intake.submitted",
            job_id=submission.job.id,
            message=where,
            run_name=submission.job.client_id,
        )

    async def refuse(
        self, record: Any, reason: str, details: list[dict[str, str]], where: str
    ) -> None:
        """Copy the message to the dead-letter topic with the reason; send ``Failed`` for its
        run when it names one, unless that run is a job already (whose statuses are its own)."""
        headers = messages.dead_letter_headers(reason, details, where, record.headers or ())
        await self.link.send(
            self.config.dead_letter_topic, record.value or b"", key=record.key, headers=headers
        )
        name = messages.run_name(record.value)
        if name is not None and await self._known(name):
            log_event(self.logger, "intake.duplicate", message=where, run_name=name)
            name = None
        if name is not None:
            status = messages.refused_status(name, utcnow())
            await self.link.send(self.config.producer_topic, messages.encode(status), key=name)
        log_event(
            self.logger,
            "intake.refused",
            level=logging.WARNING,
            message=where,
            run_name=name,
            reason=reason,
            fields=[d["field"] for d in details],
        )

    async def _known(self, run_name: str) -> bool:
        job = await asyncio.to_thread(self.jobs.by_client_id, run_name, caller=self.caller)
        return job is not None

    async def _drop_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await consumer.stop()
            except broker_errors():
                pass

    async def close(self) -> None:
        await self._drop_consumer()
        try:
            await self.link.close()
        except broker_errors() as exc:  # what it did not send stays in the outbox
            log_event(self.logger, "intake.close_failed", level=logging.WARNING, error=str(exc))
