from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from vatti.domain.failure import Failure
from vatti.domain.states import JobEvent, JobState
from vatti.engine.admission import admit_once
from vatti.engine.ports import Exited
from vatti.engine.reconcile import reconcile_once
from vatti.engine.sweeper import sweep_once
from vatti.runtime.outcome import Outcome
from vatti.store.base import Changes

pytestmark = pytest.mark.unit


def test_expired_results_are_deleted_and_marked(harness: Any) -> None:
    job = harness.submit()
    admit_once(harness.ctx)
    harness.executor.finish(job.id, Exited(0))
    harness.outcomes.records[job.id] = Outcome(harness.clock(), [])
    reconcile_once(harness.ctx)
    expires = harness.store.get(job.id).results_expire_at
    harness.clock.now = expires - timedelta(microseconds=1)
    sweep_once(harness.ctx)
    assert harness.areas.results_deleted == []
    harness.clock.now = expires
    sweep_once(harness.ctx)
    assert harness.areas.results_deleted == [job.id]
    assert harness.store.get(job.id).results_deleted_at == expires
    sweep_once(harness.ctx)
    assert harness.areas.results_deleted == [job.id]  # once


def test_orphans_of_finished_and_unknown_jobs_are_removed(harness: Any, tmp_path: Path) -> None:
    harness.ctx.scratch_root = tmp_path
    live = harness.submit()
    admit_once(harness.ctx)
    dead = harness.submit()
    admit_once(harness.ctx)
    # "dead" failed, but the engine stopped before its cleanup effects ran
    failure = Failure("internal", "boom")
    harness.store.transition(
        dead.id, JobEvent.FAIL, now=harness.clock(), changes=Changes(failure=failure)
    )
    harness.areas.specs["unknown-job"] = {}
    for job_id in (live.id, dead.id, "stray"):
        (tmp_path / job_id).mkdir()

    sweep_once(harness.ctx)

    assert set(harness.areas.specs) == {live.id}
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.id]
    assert set(harness.areas.results_deleted) == {dead.id, "unknown-job", "stray"}
    assert harness.store.get(live.id).state is JobState.RUNNING
