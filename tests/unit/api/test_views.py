from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vatti.api.views import job_view, redact_url
from vatti.domain.failure import Failure
from vatti.domain.jobs import Job
from vatti.domain.states import JobState

pytestmark = pytest.mark.unit

T = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://hooks.example.org/a?sig=1", "https://hooks.example.org/a"),
        ("http://u@[::1]:8080/x#frag", "http://[::1]:8080/x"),
        ("https://example.org", "https://example.org"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_job_view_leaves_secrets_out() -> None:
    job = Job(
        id="01J",
        client_id="c",
        fingerprint="f" * 64,
        pipeline="command",
        spec={"params": {"env": {"API_KEY": "k-secret"}}, "labels": {"a": "b"}},
        state=JobState.FAILED,
        created_at=T,
        updated_at=T,
        failure=Failure("pipeline_failed", "exit 3", step="command", exit_code=3),
        webhook_url="https://h.example.org/x?token=t-secret",
    )
    text = job_view(job).model_dump_json()
    for secret in ("k-secret", "t-secret", "f" * 64):
        assert secret not in text
    view = job_view(job)
    assert view.labels == {"a": "b"}
    assert view.failure is not None
    assert view.failure.exit_code == 3
    assert view.webhook_url == "https://h.example.org"
