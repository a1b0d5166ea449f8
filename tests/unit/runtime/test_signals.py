from __future__ import annotations

import os
import signal

import pytest

from vatti.runtime.errors import Terminated
from vatti.runtime.signals import raise_on_stop_signals

pytestmark = pytest.mark.unit


def interrupted_job(log: list[str]) -> None:
    with raise_on_stop_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            log.append("not reached")
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # a repeat during cleanup is ignored
            log.append("cleaned")


def test_sigterm_raises_once_then_is_ignored_and_handler_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    log: list[str] = []
    with pytest.raises(Terminated) as info:
        interrupted_job(log)
    assert info.value.signum == signal.SIGTERM
    assert log == ["cleaned"]
    assert signal.getsignal(signal.SIGTERM) == before
