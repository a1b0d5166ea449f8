from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.unit.engine.conftest import reconcile_once

from vatti.domain.failure import Failure
from vatti.domain.outcome import Outcome
from vatti.domain.states import JobEvent, JobState
from vatti.engine.admission import admit_once
from vatti.engine.ports import Exited
from vatti.engine.sweeper import sweep_once
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
    # the finished job's scratch is its executor's to delete (in its cleanup); the stray one's,
    # whose job the database does not know, the sweeper's
    assert harness.executor.cleaned == [f"h-{dead.id}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.id, dead.id])
    assert set(harness.areas.results_deleted) == {dead.id, "unknown-job", "stray"}
    assert harness.store.get(live.id).state is JobState.RUNNING


def test_logs_are_kept_for_the_results_ttl_after_any_end_then_deleted(harness: Any) -> None:
    ok, failed, running = harness.submit(), harness.submit(), harness.submit()
    harness.ctx.config = replace(harness.ctx.config, max_concurrent_jobs=3)
    admit_once(harness.ctx)
    harness.executor.finish(ok.id, Exited(0))
    harness.outcomes.records[ok.id] = Outcome(harness.clock(), [])
    harness.executor.finish(failed.id, Exited(1))
    harness.outcomes.records[failed.id] = Outcome(harness.clock(), failure=Failure("x", "boom"))
    reconcile_once(harness.ctx)
    assert harness.store.get(failed.id).state is JobState.FAILED
    unknown = "01a23361-d4e5-7667-a0c5-e61372d70527"
    harness.executor.runs = {ok.id, failed.id, running.id, unknown}
    # and their copies saved in the work store
    harness.areas.saved_logs.update(dict.fromkeys(harness.executor.runs, b"log"))

    sweep_once(harness.ctx)
    assert harness.executor.runs == {ok.id, failed.id, running.id}  # no such job: gone at once
    assert set(harness.areas.saved_logs) == {ok.id, failed.id, running.id}

    harness.clock.advance(harness.ctx.config.results_ttl_s - 1)
    sweep_once(harness.ctx)
    assert harness.executor.runs == {ok.id, failed.id, running.id}
    assert set(harness.areas.saved_logs) == {ok.id, failed.id, running.id}
    harness.clock.advance(1)
    sweep_once(harness.ctx)
    assert harness.executor.runs == {running.id}  # a job still running keeps its log
    assert set(harness.areas.saved_logs) == {running.id}


def test_results_areas_no_job_keeps_are_removed_wherever_they_live(harness: Any) -> None:
    ok, failed, running = harness.submit(), harness.submit(), harness.submit()
    harness.ctx.config = replace(harness.ctx.config, max_concurrent_jobs=3)
    admit_once(harness.ctx)
    harness.executor.finish(ok.id, Exited(0))
    harness.outcomes.records[ok.id] = Outcome(harness.clock(), [])
    reconcile_once(harness.ctx)
    # "failed" failed and its work area is gone, but its results were left behind
    harness.store.transition(
        failed.id, JobEvent.FAIL, now=harness.clock(), changes=Changes(failure=Failure("x", "y"))
    )
    harness.areas.specs.pop(failed.id)
    unknown = "01a23361-d4e5-7667-a0c5-e61372d70527"
    harness.areas.results = {ok.id, failed.id, running.id, unknown}
    harness.areas.results_deleted.clear()

    sweep_once(harness.ctx)

    assert harness.areas.results == {ok.id, running.id}
    assert sorted(harness.areas.results_deleted) == sorted([failed.id, unknown])
