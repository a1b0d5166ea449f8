"""A restarted server takes over the leases of the replica it replaces on the same host."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import pytest

from vatti.engine.context import holder_is_dead_here
from vatti.engine.service import Engine

pytestmark = pytest.mark.unit


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def test_leases_of_dead_local_replicas_are_released(harness_factory: Any) -> None:
    h = harness_factory()
    host = socket.gethostname()
    dead = f"{host}:{dead_pid()}:abc"
    alive = f"{host}:1:def"  # pid 1 exists
    remote = f"other-host:{dead_pid()}:ghi"
    now = h.ctx.now()
    for name, holder in (("a", dead), ("b", alive), ("c", remote)):
        assert h.ctx.store.acquire_lease(name, holder, 60, now)

    assert Engine(h.ctx).release_dead_leases() == ["a"]
    assert h.ctx.store.lease_holders() == {"b": alive, "c": remote}
    assert h.ctx.store.acquire_lease("a", "new-replica", 60, now)


def test_holder_names_without_a_pid_are_never_dead() -> None:
    assert not holder_is_dead_here("host-only", host="host-only")
    assert not holder_is_dead_here("h:notapid:x", host="h")
