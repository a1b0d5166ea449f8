"""Job and pod statuses, in the shapes a real cluster reports them, as executor statuses."""

from __future__ import annotations

from typing import Any

import pytest

from vatti.executors.base import MEMORY, WALL_TIME, Exited, Pending, Running, Vanished
from vatti.executors.kubernetes_states import status_of

pytestmark = pytest.mark.unit

NAME = "vatti-j1-a1"
UID = "0b3c55d2-4a3e-4f1c-9d64-3f2b9c0e7a11"
IMAGE = "registry.test/vatti:1.0"


def job(*conditions: dict[str, Any], **status: Any) -> dict[str, Any]:
    full = [
        {"status": "True", "lastTransitionTime": "2026-12-03T10:00:00Z", **c} for c in conditions
    ]
    return {
        "metadata": {"name": NAME, "uid": UID},
        "status": {"startTime": "2026-12-03T09:59:00Z", **status, "conditions": full},
    }


def pod(phase: str, *containers: dict[str, Any], **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{NAME}-x7k2p", "creationTimestamp": "2026-12-03T09:59:00Z"},
        "status": {"phase": phase, "containerStatuses": list(containers), **status},
    }


def container(**state: Any) -> dict[str, Any]:
    return {"name": "job", "image": IMAGE, "ready": False, "restartCount": 0, "state": state}


def terminated(code: int, reason: str, **more: Any) -> dict[str, Any]:
    return container(terminated={"exitCode": code, "reason": reason, **more})


def status(j: dict[str, Any] | None, *pods: dict[str, Any], memory_mb: int | None = 512) -> Any:
    return status_of(NAME, j, list(pods), uid=UID, memory_mb=memory_mb)


def test_no_pod_yet_and_an_unschedulable_pod_are_pending() -> None:
    assert status(job(active=1)) == Pending()
    unschedulable = pod(
        "Pending",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient memory.",
            }
        ],
    )
    assert status(job(active=1), unschedulable) == Pending()
    creating = pod("Pending", container(waiting={"reason": "ContainerCreating"}))
    assert status(job(active=1), creating) == Pending()


def test_a_first_failed_pull_is_retried_a_back_off_fails_the_job() -> None:
    message = f'failed to pull and unpack image "{IMAGE}": not found'
    first = pod("Pending", container(waiting={"reason": "ErrImagePull", "message": message}))
    assert status(job(active=1), first) == Pending()
    backoff = pod(
        "Pending",
        container(
            waiting={"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{IMAGE}"'}
        ),
    )
    result = status(job(active=1), backoff)
    assert isinstance(result, Exited)
    assert result.code == 127
    assert (
        result.reason
        == f'the pod cannot start {IMAGE}: ImagePullBackOff: Back-off pulling image "{IMAGE}"'
    )


def test_a_running_pod_is_running_and_a_completed_job_exited_zero() -> None:
    assert status(job(active=1), pod("Running", container(running={"startedAt": "t"}))) == Running()
    done = job({"type": "SuccessCriteriaMet"}, {"type": "Complete"}, succeeded=1)
    assert status(done, pod("Succeeded", terminated(0, "Completed"))) == Exited(0)
    assert status(done) == Exited(0)  # its pod already gone


def test_a_failed_pod_is_its_exit_code_before_and_after_the_controller_says() -> None:
    failed_pod = pod("Failed", terminated(3, "Error"))
    assert status(job(active=1), failed_pod) == Exited(3)
    failed = job(
        {"type": "FailureTarget", "reason": "BackoffLimitExceeded"},
        {
            "type": "Failed",
            "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit",
        },
        failed=1,
    )
    assert status(failed, failed_pod) == Exited(3)
    assert status(failed) == Exited(
        1, "the Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
    )


def test_oom_killed_is_the_memory_limit() -> None:
    oom = pod("Failed", terminated(137, "OOMKilled"))
    assert status(job(active=1), oom) == Exited(
        137, "killed by Kubernetes: out of memory (OOMKilled) at its limit of 512 MiB", MEMORY
    )


def test_the_deadline_is_the_wall_time_limit_once_the_pod_stopped() -> None:
    said = {
        "reason": "DeadlineExceeded",
        "message": "Job was active longer than specified deadline",
    }
    stopping = job({"type": "FailureTarget", **said}, active=1)
    assert status(stopping, pod("Running", container(running={}))) == Running()
    failed = job({"type": "FailureTarget", **said}, {"type": "Failed", **said}, failed=1)
    result = status(failed)  # the controller deleted the pod
    assert result == Exited(
        137, "the Job's DeadlineExceeded: Job was active longer than specified deadline", WALL_TIME
    )
    stopped = status(failed, pod("Failed", terminated(143, "Error")))
    assert isinstance(stopped, Exited)
    assert (stopped.code, stopped.limit) == (143, WALL_TIME)


def test_an_evicted_pod_says_so() -> None:
    evicted = pod(
        "Failed",
        terminated(137, "Error"),
        reason="Evicted",
        message="The node was low on resource: memory. "
        "Threshold quantity: 100Mi, available: 51200Ki.",
    )
    result = status(job(active=1), evicted)
    assert isinstance(result, Exited)
    assert result.code == 137
    assert result.reason == (
        "evicted by Kubernetes: The node was low on resource: memory. Threshold quantity: 100Mi, "
        "available: 51200Ki."
    )
    assert result.limit is None  # the node's pressure, not the job's limit


def test_a_failed_init_container_says_which() -> None:
    init = pod(
        "Failed",
        initContainerStatuses=[
            {
                "name": "fetch",
                "image": IMAGE,
                "state": {
                    "terminated": {"exitCode": 2, "reason": "Error", "message": "no such bucket"}
                },
            }
        ],
    )
    assert status(job(active=1), init) == Exited(
        2, "init container fetch failed: Error: no such bucket"
    )
    config_error = pod(
        "Pending",
        container(
            waiting={
                "reason": "CreateContainerConfigError",
                "message": 'secret "vatti-j1-a1-secrets" not found',
            }
        ),
    )
    result = status(job(active=1), config_error)
    assert isinstance(result, Exited)
    assert "CreateContainerConfigError" in (result.reason or "")


def test_a_job_gone_or_made_again_by_someone_else_vanished() -> None:
    gone = status(None)
    assert isinstance(gone, Vanished)
    assert "deleted outside vatti" in gone.reason
    other = job(active=1)
    other["metadata"]["uid"] = "another-uid"
    remade = status(other, pod("Running", container(running={})))
    assert isinstance(remade, Vanished)
    assert "made again outside vatti" in remade.reason
