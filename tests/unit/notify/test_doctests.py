from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from vatti.notify import backoff, signature, webhook

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("module", [backoff, signature, webhook])
def test_doctests(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
