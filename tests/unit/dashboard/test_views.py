"""What the pages show of a job, and where sign-in may send someone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vatti.dashboard.routes_auth import safe_next
from vatti.dashboard.views import job_row, matches
from vatti.domain.jobs import Job
from vatti.domain.states import JobState

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def job(**fields: object) -> Job:
    values: dict[str, object] = {
        "id": "01a23b92-bf48-72ba-a4d3-7b96ad17bc17",
        "client_id": "sample-17",
        "fingerprint": "f",
        "pipeline": "pgs",
        "spec": {"labels": {"study": "ukb", "batch": 7}},
        "state": JobState.RUNNING,
        "created_at": NOW - timedelta(minutes=10),
        "updated_at": NOW,
        "started_at": NOW - timedelta(minutes=4, seconds=5),
    }
    values.update(fields)
    return Job(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("", True),
        ("01a23b92", True),
        ("sample", True),
        ("study=ukb", True),
        ("batch=7", True),
        ("study", True),
        ("ukb", True),
        ("study=ega", False),
        ("ample", False),  # ids and client ids match from their start
        ("bc17", False),
    ],
)
def test_search(query: str, found: bool) -> None:
    assert matches(job(), query) is found


def test_a_job_without_labels_matches_only_its_ids() -> None:
    assert not matches(job(spec={}, client_id=None), "x")


def test_row_age_and_duration() -> None:
    row = job_row(job(), NOW)
    assert (row.age, row.duration, row.labels) == (
        "10m 0s",
        "4m 5s",
        {"study": "ukb", "batch": "7"},
    )
    ended = job_row(job(state=JobState.SUCCEEDED, finished_at=NOW - timedelta(minutes=1)), NOW)
    assert ended.duration == "3m 5s"
    assert job_row(job(started_at=None), NOW).duration == "not started"


@pytest.mark.parametrize(
    ("target", "goes"),
    [
        ("/dashboard/jobs/x", "/dashboard/jobs/x"),
        (None, "/dashboard/"),
        ("/dashboard", "/dashboard/"),
        ("/dashboardx/", "/dashboard/"),
        ("/dashboard/..//evil", "/dashboard/"),
        ("/dashboard/\\\\evil.example", "/dashboard/"),
        ("javascript:alert(1)", "/dashboard/"),
    ],
)
def test_sign_in_sends_only_to_the_dashboard(target: str | None, goes: str) -> None:
    assert safe_next("/dashboard", target) == goes
