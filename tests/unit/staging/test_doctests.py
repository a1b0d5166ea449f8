from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from vatti.staging import bucket_sources, buckets, decrypt, https, keys, retries, s3_expiry

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "module", [bucket_sources, buckets, decrypt, https, keys, retries, s3_expiry]
)
def test_doctests(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
