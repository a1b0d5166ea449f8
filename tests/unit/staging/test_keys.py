from __future__ import annotations

import pytest

from vatti.staging.errors import InvalidKey
from vatti.staging.keys import check_key, check_prefix, check_segment

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "key", ["", "/abs", "a/../b", "..", "a//b", "./a", "a/", "a\\b", "a\nb", "a/\x00"]
)
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey):
        check_key(key)


@pytest.mark.parametrize("key", ["a", "jobs/j1/work/spec.json", "x/y z/..hidden", "a.b/c..d"])
def test_ordinary_keys_pass(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize("prefix", ["", "/", "/jobs/", "jobs/../", "jobs//x/"])
def test_unsafe_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(InvalidKey):
        check_prefix(prefix)


@pytest.mark.parametrize("name", ["a/b", "..", ".", ""])
def test_job_ids_are_single_segments(name: str) -> None:
    with pytest.raises(InvalidKey):
        check_segment(name, "job id")
