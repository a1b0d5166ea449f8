"""Identical submissions from separate processes create exactly one job (SQL stores only)."""

from __future__ import annotations

import pytest
from tests.integration.store.racing import race

from vatti.domain.states import JobState
from vatti.store.sql import open_store

pytestmark = pytest.mark.integration

CHILD = """
import json, sys
from datetime import UTC, datetime
from vatti.store.base import NewJob
from vatti.store.sql import open_store

store = open_store(sys.argv[1])
new = NewJob(pipeline="pgs", spec={"n": 1}, fingerprint="f" * 64, client_id=sys.argv[2] or None)
print("ready", flush=True)
sys.stdin.readline()
r = store.submit(new, now=datetime(2025, 1, 1, tzinfo=UTC), dedup_window_s=60)
print(json.dumps([r.job.id, r.created, r.conflict]), flush=True)
store.close()
"""


@pytest.mark.parametrize("client_id", ["", "cid-1"])
def test_processes_submitting_at_once_create_one_job(database_url: str, client_id: str) -> None:
    outcomes = race(CHILD, [[database_url, client_id]] * 8)
    assert len({job_id for job_id, _, _ in outcomes}) == 1
    assert sum(created for _, created, _ in outcomes) == 1
    store = open_store(database_url)
    try:
        assert store.count_in_states(list(JobState)) == 1
    finally:
        store.close()
