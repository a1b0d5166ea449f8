"""VATTI_JOB_UID_RANGE: the uids jobs may run under, checked when a process starts."""

from __future__ import annotations

import pytest

from vatti.config import Settings
from vatti.errors import ConfigError
from vatti.isolation.uid_range import DEFAULT_JOB_UID_RANGE, UidRange

pytestmark = pytest.mark.unit


def test_the_default_range_holds_no_system_user_and_no_subordinate_range_useradd_gives() -> None:
    uids = UidRange.parse(DEFAULT_JOB_UID_RANGE)
    assert len(uids) == 65536
    assert uids.first > 600_100_000  # useradd's SUB_UID_MAX: /etc/subuid ranges end below
    assert uids.last < 2**31  # clear of (uid_t)-1 and tools that read uids as signed


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("200000", "expected FIRST-LAST"),
        ("300000-200000", "FIRST <= LAST"),
        ("0-70000", "job uids must lie in"),
        ("1000-2000", "job uids must lie in"),
        ("65536-4294967295", "job uids must lie in"),
    ],
)
def test_a_bad_range_is_refused_at_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv("VATTI_JOB_UID_RANGE", value)
    with pytest.raises(ConfigError) as caught:
        Settings.for_component("runtime")
    (line,) = caught.value.message.splitlines()[1:]
    assert line.startswith("VATTI_JOB_UID_RANGE:")
    assert says in line


def test_a_range_is_read_with_spaces_and_handed_to_jobs_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VATTI_JOB_UID_RANGE", " 200000 - 200099 ")
    runtime = Settings.for_component("runtime").runtime
    assert runtime is not None
    assert runtime.job_uid_range == "200000-200099"
    assert runtime.job_uids() == UidRange(200000, 200099)


def test_every_uid_is_tried_once_from_a_start_the_job_id_gives() -> None:
    uids = UidRange(100_000, 100_009)
    order = list(uids.starting_at("job-1"))
    assert sorted(order) == list(range(100_000, 100_010))
    assert order == list(uids.starting_at("job-1"))
    starts = {next(uids.starting_at(f"job-{n}")) for n in range(50)}
    assert len(starts) > 1  # jobs spread over the range
