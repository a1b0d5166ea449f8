"""The Kubernetes objects of one attempt of a job, as plain dicts (pure: no client, no I/O).

Each attempt is a ``batch/v1`` Job named :func:`job_name` (``vatti-<job id>-a<attempt>``: a
restarted engine finds it by that name) whose one pod runs the job's wrapper
(:mod:`vatti.executors.kubernetes_pod`) with the job runtime's non-secret settings in its
environment. Its secret settings go in a Secret of its own (:func:`secret_manifest`), created
once the Job exists and owned by it (``ownerReferences`` to the Job's uid: the cluster deletes
it with the Job), and reach the pod as a read-only file, never as an environment value.

The pod: ``restartPolicy: Never`` and ``backoffLimit: 0`` (vatti decides about retries),
``activeDeadlineSeconds`` vatti's wall time plus the margin, ``ttlSecondsAfterFinished``, CPU and
memory from the job's limits (plus what the wrapper needs), non-root with every capability
dropped, a read-only root file system with an ``emptyDir`` for the data dir (scratch, ``HOME``,
``TMPDIR``), no service-account token, no service links. Every object carries
:data:`MANAGED_BY` and the job's id and attempt as labels.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from vatti.executors.base import WALL_TIME_MARGIN_S, Launch

#: the label every object vatti creates carries (the sweeper lists them by it)
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "vatti"
JOB_ID_LABEL: Final = "vatti.io/job-id"
ATTEMPT_LABEL: Final = "vatti.io/attempt"
COMPONENT_LABEL: Final = "app.kubernetes.io/component"
#: the label selector of everything vatti created
MANAGED_SELECTOR: Final = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
POD_MODULE: Final = "vatti.executors.kubernetes_pod"
CONTAINER: Final = "job"
#: the pod's writable data dir (an emptyDir): VATTI_DATA_DIR, the scratch, HOME and TMPDIR
DATA_MOUNT: Final = "/var/lib/vatti"
#: where the job's Secret is mounted (one file, :data:`SECRETS_KEY`)
SECRETS_MOUNT: Final = "/var/run/vatti/secrets"
SECRETS_KEY: Final = "secrets.json"
#: memory the wrapper and the container need on top of the job's limit
WRAPPER_MEMORY_MB: Final = 64
#: the uid and gid of the pod's processes (the image's non-root user)
RUN_AS: Final = 10001
#: seconds between SIGTERM and SIGKILL when the cluster stops the pod (the deadline, eviction)
POD_GRACE_S: Final = 30
_NAME_CHARS = re.compile(r"[^a-z0-9-]+")
MAX_NAME = 63


@dataclass(frozen=True)
class PodOptions:
    """How the executor's pods are set up (``VATTI_K8S_*``)."""

    image: str
    namespace: str = "default"
    python: str = "python"
    service_account: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, Any]] = ()
    image_pull_secrets: Sequence[str] = ()
    ttl_after_finished_s: int = 86400
    cpus: float = 1.0
    wall_time_margin_s: float = WALL_TIME_MARGIN_S
    entry: str = "vatti.runtime.main:job_run_main"


def job_name(job_id: str, attempt: int) -> str:
    """The Job's name: a DNS label made of the job id (hashed when it does not fit).

    >>> job_name("0193d1b2-7f00-7000-8000-000000000001", 2)
    'vatti-0193d1b2-7f00-7000-8000-000000000001-a2'
    >>> job_name("Odd_ID", 1)
    'vatti-odd-id-56d1cf03-a1'
    """
    slug = _NAME_CHARS.sub("-", job_id.lower()).strip("-")
    suffix = f"-a{attempt}"
    if slug != job_id or len(slug) + len(suffix) + 6 > MAX_NAME:
        import hashlib

        digest = hashlib.sha256(job_id.encode()).hexdigest()[:8]
        slug = f"{slug[: MAX_NAME - len(suffix) - 6 - 9].strip('-')}-{digest}".strip("-")
    return f"vatti-{slug}{suffix}"


def secret_name(job_id: str, attempt: int) -> str:
    """The name of the attempt's Secret.

    >>> secret_name("j1", 1)
    'vatti-j1-a1-secrets'
    """
    return f"{job_name(job_id, attempt)}-secrets"


def labels(job_id: str, attempt: int) -> dict[str, str]:
    """The labels of every object of one attempt (a job id that is no label value is left out:
    the name still says it)."""
    found = {MANAGED_BY_LABEL: MANAGED_BY, COMPONENT_LABEL: "job", ATTEMPT_LABEL: str(attempt)}
    if re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", job_id):
        found[JOB_ID_LABEL] = job_id
    return found


def active_deadline_s(wall_time_s: int | None, margin_s: float) -> int | None:
    """The Job's ``activeDeadlineSeconds``: vatti's wall time plus the margin, whole seconds.

    >>> [active_deadline_s(w, 30) for w in (None, 0, 1, 3600)]
    [None, None, 31, 3630]
    """
    if not wall_time_s:
        return None
    return max(1, math.ceil(wall_time_s + margin_s))


def quantity_cpu(cpus: float) -> str:
    """
    >>> quantity_cpu(1.0), quantity_cpu(0.5)
    ('1', '500m')
    """
    millis = round(cpus * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def resources(memory_mb: int | None, cpus: float) -> dict[str, dict[str, str]]:
    """Requests equal to limits (the Guaranteed QoS class when memory is limited too)."""
    wanted = {"cpu": quantity_cpu(cpus)}
    if memory_mb:
        wanted["memory"] = f"{memory_mb + WRAPPER_MEMORY_MB}Mi"
    return {"requests": dict(wanted), "limits": dict(wanted)}


def pod_env(env: Mapping[str, str]) -> dict[str, str]:
    """The runtime's environment in the pod: the launch's settings, the data dir, its scratch
    and its temporary dirs in the pod's emptyDir (the root file system is read-only)."""
    return {
        **env,
        "VATTI_DATA_DIR": DATA_MOUNT,
        "VATTI_SCRATCH_DIR": f"{DATA_MOUNT}/scratch",
        "HOME": f"{DATA_MOUNT}/home",
        "TMPDIR": f"{DATA_MOUNT}/tmp",  # noqa: S108 -- in the pod's own emptyDir
    }


def pod_command(launch: Launch, options: PodOptions) -> list[str]:
    memory = launch.limits.memory_mb or 0
    return [
        options.python,
        "-m",
        POD_MODULE,
        "--job-id",
        launch.job_id,
        "--attempt",
        str(launch.attempt),
        "--entry",
        options.entry,
        "--memory-mb",
        str(memory),
        "--secrets",
        f"{SECRETS_MOUNT}/{SECRETS_KEY}",
    ]


def pod_spec(launch: Launch, options: PodOptions) -> dict[str, Any]:
    container = {
        "name": CONTAINER,
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "command": pod_command(launch, options),
        "env": [{"name": k, "value": v} for k, v in sorted(pod_env(launch.env).items())],
        "resources": resources(launch.limits.memory_mb, options.cpus),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "data", "mountPath": DATA_MOUNT},
            {"name": "secrets", "mountPath": SECRETS_MOUNT, "readOnly": True},
        ],
        "workingDir": DATA_MOUNT,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": POD_GRACE_S,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "data", "emptyDir": {}},
            {
                "name": "secrets",
                "secret": {
                    "secretName": secret_name(launch.job_id, launch.attempt),
                    "defaultMode": 0o440,
                    "optional": False,
                },
            },
        ],
    }
    if options.service_account:
        spec["serviceAccountName"] = options.service_account
    if options.node_selector:
        spec["nodeSelector"] = dict(options.node_selector)
    if options.tolerations:
        spec["tolerations"] = [dict(t) for t in options.tolerations]
    if options.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in options.image_pull_secrets]
    return spec


def job_manifest(launch: Launch, options: PodOptions) -> dict[str, Any]:
    """The attempt's Job; it holds none of the launch's secrets."""
    tags = labels(launch.job_id, launch.attempt)
    spec: dict[str, Any] = {
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": options.ttl_after_finished_s,
        "template": {"metadata": {"labels": dict(tags)}, "spec": pod_spec(launch, options)},
    }
    deadline = active_deadline_s(launch.limits.wall_time_s, options.wall_time_margin_s)
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(launch.job_id, launch.attempt),
            "namespace": options.namespace,
            "labels": tags,
        },
        "spec": spec,
    }


def owner_reference(job: Mapping[str, Any]) -> dict[str, Any]:
    """A reference to the created ``job`` (its name and uid as the API server answered)."""
    meta = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def secret_manifest(
    launch: Launch, options: PodOptions, owner: Mapping[str, Any]
) -> dict[str, Any]:
    """The attempt's Secret: the launch's secrets as one JSON file, owned by the Job ``owner``."""
    body = json.dumps(
        {"job_id": launch.job_id, "attempt": launch.attempt, "secrets": dict(launch.secrets)}
    )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "immutable": True,
        "metadata": {
            "name": secret_name(launch.job_id, launch.attempt),
            "namespace": options.namespace,
            "labels": labels(launch.job_id, launch.attempt),
            "ownerReferences": [owner_reference(owner)],
        },
        "data": {SECRETS_KEY: base64.b64encode(body.encode()).decode("ascii")},
    }
