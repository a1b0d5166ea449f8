"""The Kubernetes executor's handle: what a restarted engine follows a Job by."""

from __future__ import annotations

import json

import pytest

from vatti.executors.errors import BadHandle
from vatti.executors.kubernetes import KubernetesHandle

pytestmark = pytest.mark.unit

GOOD = {
    "executor": "kubernetes",
    "v": 1,
    "job_id": "j1",
    "attempt": 1,
    "namespace": "jobs",
    "name": "vatti-j1-a1",
    "uid": "u-1",
    "memory_mb": None,
}


def test_a_handle_names_the_job_by_namespace_name_and_uid() -> None:
    handle = KubernetesHandle.loads(json.dumps(GOOD))
    assert (handle.namespace, handle.name, handle.uid) == ("jobs", "vatti-j1-a1", "u-1")


@pytest.mark.parametrize(
    "change",
    [
        {"attempt": "1"},
        {"name": "vatti-other-a1"},
        {"job_id": "../etc"},
        {"uid": 7},
        {"namespace": None},
    ],
)
def test_altered_handles_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(BadHandle):
        KubernetesHandle.loads(json.dumps({**GOOD, **change}))
