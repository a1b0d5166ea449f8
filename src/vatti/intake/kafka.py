"""The Kafka clients of the engine (aiokafka, the ``vatti[kafka]`` extra, imported lazily).

:class:`KafkaLink` holds one producer (the statuses and the dead letters) and makes the
intake's consumer. The producer lives on the engine's event loop; the outbox's notifier, which
runs in worker threads, sends through :meth:`KafkaLink.send_blocking`. Broker errors become
:class:`KafkaUnavailable` (transient: the supervisor and the outbox try again).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vatti.errors import ConfigError, VattiError

if TYPE_CHECKING:
    from vatti.config import KafkaSettings

#: how long one send may take before it is reported as failed (and retried)
SEND_TIMEOUT_S = 20.0


class KafkaUnavailable(VattiError):
    """The brokers did not answer (or refused) a call; trying later may help."""

    code = "kafka_unavailable"
    transient = True


@dataclass(frozen=True)
class KafkaOptions:
    """How to reach the brokers (from :class:`vatti.config.KafkaSettings`)."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = None

    @classmethod
    def from_settings(cls, settings: KafkaSettings) -> KafkaOptions:
        assert settings.kafka_bootstrap_servers is not None
        password = settings.kafka_sasl_password
        return cls(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            security_protocol=settings.kafka_security_protocol,
            ssl_cafile=settings.kafka_ssl_cafile,
            ssl_certfile=settings.kafka_ssl_certfile,
            ssl_keyfile=settings.kafka_ssl_keyfile,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_username=settings.kafka_sasl_username,
            sasl_password=password.get_secret_value() if password is not None else None,
        )

    def __repr__(self) -> str:
        return f"KafkaOptions({self.bootstrap_servers!r}, {self.security_protocol})"

    def client_args(self) -> dict[str, Any]:
        """The connection arguments every aiokafka client takes."""
        args: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            args["ssl_context"] = create_ssl_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
                certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
                keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
            )
        if self.security_protocol.startswith("SASL_"):
            args["sasl_mechanism"] = self.sasl_mechanism
            args["sasl_plain_username"] = self.sasl_username
            args["sasl_plain_password"] = self.sasl_password
        return args


def aiokafka_module() -> Any:
    try:
        import aiokafka
    except ImportError as exc:
        raise ConfigError(
            "VATTI_KAFKA_BOOTSTRAP_SERVERS is set but the Kafka client is not installed: "
            "pip install 'vatti[kafka]'"
        ) from exc
    return aiokafka


def broker_errors() -> tuple[type[BaseException], ...]:
    """The errors of a call the brokers failed (aiokafka's, and a connection's)."""
    from aiokafka.errors import KafkaError

    return (KafkaError, OSError, asyncio.TimeoutError)


class KafkaLink:
    """One producer on the engine's event loop, and the consumers of the intake."""

    def __init__(self, options: KafkaOptions) -> None:
        self.options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._producer: Any = None
        self._starting: asyncio.Lock | None = None

    def attach(self) -> None:
        """Bind the link to the running event loop (the engine's), where its clients live."""
        self._loop = asyncio.get_running_loop()
        self._starting = asyncio.Lock()

    def consumer(self, topic: str, group_id: str) -> Any:
        """An unstarted consumer of ``topic`` in ``group_id`` that commits only when told,
        from the earliest offset when the group has none (no message sent before vatti's
        first start is skipped)."""
        return aiokafka_module().AIOKafkaConsumer(
            topic,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self.options.client_args(),
        )

    async def _started_producer(self) -> Any:
        assert self._starting is not None, "KafkaLink.attach() was not called"
        async with self._starting:
            if self._producer is None:
                producer = aiokafka_module().AIOKafkaProducer(
                    acks="all", request_timeout_ms=15000, **self.options.client_args()
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        """Send one message and wait for the brokers to acknowledge it."""
        try:
            producer = await self._started_producer()
            await producer.send_and_wait(
                topic,
                value,
                key=key.encode() if isinstance(key, str) else key,
                headers=list(headers) or None,
            )
        except broker_errors() as exc:
            raise KafkaUnavailable(
                f"could not send to Kafka topic {topic!r} ({type(exc).__name__}: {exc})"
            ) from None

    def send_blocking(self, topic: str, value: bytes, *, key: str | None = None) -> None:
        """:meth:`send` from another thread than the event loop's."""
        loop = self._loop
        if loop is None or loop.is_closed():
            raise KafkaUnavailable("the Kafka producer is not running (the engine is not)")
        future = asyncio.run_coroutine_threadsafe(self.send(topic, value, key=key), loop)
        try:
            future.result(timeout=SEND_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise KafkaUnavailable(
                f"sending to Kafka topic {topic!r} took over {SEND_TIMEOUT_S:.0f} s"
            ) from None

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
