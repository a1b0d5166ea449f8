"""``vatti engine`` for a crash test: the intake stops inside the window between reading a message
and storing its job, and says so on a Unix socket (``python -m vatti.testing.kafka_engine
SOCKET``). The test waits for that word (awaited, not slept), kills the process with SIGKILL,
and restarts the real ``vatti engine``: the message must be read again, its job stored once."""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

from vatti.assembly import open_service, run_engine
from vatti.config import Settings
from vatti.intake.consumer import KafkaIntake
from vatti.logging_setup import configure_logging

HELD = b"held\n"


def hold_at(path: str) -> Any:
    """A ``before_store`` hook that tells ``path`` it holds a message, then waits forever."""
    connections: list[socket.socket] = []

    def tell() -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        sock.sendall(HELD)
        connections.append(sock)  # kept open until the process dies

    async def hold(_record: Any) -> None:
        await asyncio.to_thread(tell)
        await asyncio.Event().wait()

    return hold


def main(argv: list[str]) -> None:
    (path,) = argv
    settings = Settings.for_components("engine", "runtime")
    configure_logging(settings.common.log_level)
    service = open_service(settings)
    engine = service.engine
    assert isinstance(engine.intake, KafkaIntake), "VATTI_KAFKA_BOOTSTRAP_SERVERS is not set"
    engine.intake.before_store = hold_at(path)

    try:
        asyncio.run(run_engine(engine))
    finally:
        service.close()


if __name__ == "__main__":
    main(sys.argv[1:])
