"""Every settings test starts from an environment with no ``VATTI_*`` variable."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def no_vatti_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No VATTI_* variable of the developer's environment."""
    for name in list(os.environ):
        if name.upper().startswith("VATTI_"):
            monkeypatch.delenv(name)
