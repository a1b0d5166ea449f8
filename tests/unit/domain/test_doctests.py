from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from vatti.domain import (
    failure,
    fingerprint,
    hattivatti,
    layout,
    match_rates,
    recipients,
    states,
    times,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "module", [failure, fingerprint, hattivatti, layout, match_rates, recipients, states, times]
)
def test_doctests(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
