"""What a Job and its pod say, as an executor status (pure: the objects as the API returns them).

The Job's conditions decide first: ``Complete`` → ``Exited(0)``; ``Failed`` (or the
``FailureTarget`` the Job controller sets before it stops the pod) with reason
``DeadlineExceeded`` → the executor's wall-time limit (``Exited(..., limit=WALL_TIME)``, once
the pod stopped), any other ``Failed`` → the pod's exit. Without a final condition (the Job
controller may lag behind the kubelet) the pod decides:

- ``Pending``: not scheduled yet, pulling the image, creating the container → :class:`Pending`;
  but a pod that cannot start (``ImagePullBackOff``, ``InvalidImageName``, ``ErrImageNeverPull``,
  ``CreateContainerConfigError``, ``CreateContainerError``) → ``Exited(127)`` with the kubelet's
  reason and message (one ``ErrImagePull`` is retried by the kubelet: still pending);
- ``Running`` → :class:`Running`;
- ``Succeeded``/``Failed``: its container's exit code; ``OOMKilled`` → ``Exited(137,
  limit=MEMORY)``; an evicted pod (``status.reason: Evicted``) and a failed init container
  say so in the reason.

A Job that is not there (or has another uid: not the one vatti created) is
:class:`Vanished`: deleted by someone else, or by its ``ttlSecondsAfterFinished``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from vatti.executors.base import (
    MEMORY,
    WALL_TIME,
    ExecStatus,
    Exited,
    Pending,
    Running,
    Vanished,
)

#: exit status of a pod that could not start its container (as a shell's "command not found")
CANNOT_START: Final = 127
#: exit status of a container killed by SIGKILL (the OOM killer, the end of a grace period)
KILLED: Final = 137
#: waiting reasons that will not get better by waiting
FATAL_WAITING: Final = frozenset(
    {
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)

Obj = Mapping[str, Any]


def condition(job: Obj, kind: str) -> Obj | None:
    """The Job's condition of type ``kind`` when it is ``True``."""
    for item in job.get("status", {}).get("conditions") or ():
        if item.get("type") == kind and item.get("status") == "True":
            return item  # type: ignore[no-any-return]
    return None


def _said(item: Obj) -> str:
    reason, message = item.get("reason") or "", item.get("message") or ""
    return f"{reason}: {message}" if reason and message else reason or message


def _containers(pod: Obj, key: str = "containerStatuses") -> list[Obj]:
    return list(pod.get("status", {}).get(key) or ())


def terminated(pod: Obj) -> Obj | None:
    """The ``state.terminated`` of the pod's (only) container, once it ended."""
    for status in _containers(pod):
        ended = status.get("state", {}).get("terminated")
        if ended is not None:
            return ended  # type: ignore[no-any-return]
    return None


def started(pod: Obj) -> bool:
    """Whether the pod's container started (so it has a log): running or terminated."""
    states = [status.get("state") or {} for status in _containers(pod)]
    return any("running" in state or "terminated" in state for state in states)


def failed_init(pod: Obj) -> Obj | None:
    for status in _containers(pod, "initContainerStatuses"):
        ended = status.get("state", {}).get("terminated")
        if ended is not None and ended.get("exitCode", 0) != 0:
            return {"name": status.get("name"), **ended}
    return None


def cannot_start(pod: Obj) -> str | None:
    """The kubelet's reason why the pod's container cannot start, when waiting will not help."""
    for status in _containers(pod, "initContainerStatuses") + _containers(pod):
        waiting = status.get("state", {}).get("waiting") or {}
        if waiting.get("reason") in FATAL_WAITING:
            image = status.get("image") or "its image"
            return f"the pod cannot start {image}: {_said(waiting)}"
    return None


def pod_exit(pod: Obj, memory_mb: int | None) -> Exited:
    """The exit of a pod that ended (or was stopped): its container's, with the cluster's why."""
    status = pod.get("status", {})
    init = failed_init(pod)
    if init is not None:
        code = int(init.get("exitCode", 1))
        return Exited(code, f"init container {init.get('name')} failed: {_said(init)}")
    ended = terminated(pod)
    code = int(ended.get("exitCode", 1)) if ended is not None else KILLED
    if ended is not None and ended.get("reason") == "OOMKilled":
        limit = f" at its limit of {memory_mb} MiB" if memory_mb else ""
        return Exited(KILLED, f"killed by Kubernetes: out of memory (OOMKilled){limit}", MEMORY)
    if status.get("reason") == "Evicted":
        return Exited(code or KILLED, f"evicted by Kubernetes: {status.get('message', '')}")
    if code == 0:
        return Exited(0)
    if ended is None:
        return Exited(code, f"the pod failed: {_said(status)}" if _said(status) else None)
    if ended.get("reason") in ("Error", None) and not ended.get("message"):
        return Exited(code)  # a plain non-zero exit: the job's own
    return Exited(code, f"the pod failed: {_said(ended)}")


def newest(pods: Sequence[Obj]) -> Obj | None:
    """The attempt's pod (with ``backoffLimit: 0`` there is one; the newest if more)."""
    if not pods:
        return None
    return max(pods, key=lambda p: str(p.get("metadata", {}).get("creationTimestamp") or ""))


def status_of(
    name: str,
    job: Obj | None,
    pods: Sequence[Obj],
    *,
    uid: str | None = None,
    memory_mb: int | None = None,
) -> ExecStatus:
    """The status of Job ``name`` (None: not found) with its pods; see the module docs."""
    if job is None:
        return Vanished(
            f"the Kubernetes Job {name} is gone: deleted outside vatti (or by its "
            "ttlSecondsAfterFinished)"
        )
    if uid is not None and job.get("metadata", {}).get("uid") not in (None, uid):
        return Vanished(f"the Kubernetes Job {name} was deleted and made again outside vatti")
    pod = newest(pods)
    if condition(job, "Complete") is not None:
        return Exited(0) if pod is None else pod_exit(pod, memory_mb)
    failed = condition(job, "Failed")
    target = failed or condition(job, "FailureTarget")  # set first, while its pod is stopped
    if target is not None and target.get("reason") == "DeadlineExceeded":
        phase = pod.get("status", {}).get("phase") if pod is not None else None
        if failed is None and phase in ("Pending", "Running"):
            return Running() if phase == "Running" else Pending()
        ended = terminated(pod) if pod is not None else None
        code = int(ended.get("exitCode", KILLED)) if ended is not None else KILLED
        return Exited(code or KILLED, f"the Job's {_said(target)}", WALL_TIME)
    if failed is not None:
        if pod is not None and pod.get("status", {}).get("phase") in ("Failed", "Succeeded"):
            return pod_exit(pod, memory_mb)
        return Exited(1, f"the Job failed: {_said(failed)}")
    if pod is None:
        return Pending()
    phase = pod.get("status", {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        return pod_exit(pod, memory_mb)
    if phase == "Running":
        return Running()
    reason = cannot_start(pod)
    if reason is not None:
        return Exited(CANNOT_START, reason)
    return Pending()
