"""Run each job as a Kubernetes ``batch/v1`` Job (``VATTI_EXECUTOR=kubernetes``).

:meth:`KubernetesExecutor.submit` creates the attempt's Job (:mod:`.kubernetes_objects`), then
its Secret (the launch's secrets) owned by the Job's uid, so the cluster deletes the Secret with
the Job; if the Secret cannot be made the Job is deleted again. A Job of the same name already
there (an engine that died between creating it and storing the handle) is taken over: the
handle names the Job, its namespace and uid, so any engine follows it from the handle alone.

- ``poll``: the Job and its pod, mapped by :mod:`.kubernetes_states`; an exit this executor
  recorded (terminate, cleanup) first. A Job that is gone without such a record, or that has
  another uid, is vanished: deleted behind vatti's back.
- ``terminate``: deletes the Job with ``propagationPolicy: Foreground`` and
  ``gracePeriodSeconds`` the grace (the kubelet sends SIGTERM, then SIGKILL), and waits until
  it is gone, keeping the last log and exit code it saw; it records the exit (the container's
  code, or 143/137 by whether it went within the grace), since nothing of the Job is left.
- ``cleanup``: stops it, records the log and exit of a Job that ended by itself, deletes the Job
  (its pod and the pod's ``emptyDir`` scratch go with it) and its Secret.
- logs: the pod's log (``pods/log``) while the pod exists, then the copy recorded at clean-up
  (``DATA_DIR/kubernetes/runs/<job id>``). The sweeper deletes those records, and every Job and
  Secret labelled as vatti's whose job the database does not know (:class:`KeepsRunRecords`).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Final

from vatti.executors import launcher
from vatti.executors.base import (
    LOG_CHUNK_BYTES,
    ExecStatus,
    Exited,
    Launch,
    LogChunk,
    Pending,
    Running,
)
from vatti.executors.errors import BadHandle, SubmitFailed
from vatti.executors.handles import handle_fields
from vatti.executors.kubernetes_api import KubeApi, KubernetesApiError
from vatti.executors.kubernetes_objects import (
    ATTEMPT_LABEL,
    JOB_ID_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    MANAGED_SELECTOR,
    PodOptions,
    job_manifest,
    job_name,
    secret_manifest,
    secret_name,
)
from vatti.executors.kubernetes_states import KILLED, newest, started, status_of, terminated
from vatti.executors.local import read_exit
from vatti.executors.slurm_runs import write_atomic

if TYPE_CHECKING:
    from vatti.config import Settings

HANDLE_VERSION: Final = 1
#: after the grace: how long to wait for the cluster to remove a deleted Job
KILL_WAIT_S: Final = 60.0
WAIT_STEP_S: Final = 0.05
LOG_FILE: Final = "job.log"
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HANDLE_TYPES: Final = (
    ("job_id", str),
    ("attempt", int),
    ("namespace", str),
    ("name", str),
    ("uid", (str, type(None))),
    ("memory_mb", (int, type(None))),
)


@dataclass(frozen=True)
class KubernetesHandle:
    """One attempt's Job: the vatti job, its namespace, name and uid, the memory limit."""

    job_id: str
    attempt: int
    namespace: str
    name: str
    uid: str | None = None
    memory_mb: int | None = None

    def dumps(self) -> str:
        """The JSON form stored by the engine.

        >>> h = KubernetesHandle("j1", 1, "jobs", "vatti-j1-a1", "u-1", 512)
        >>> KubernetesHandle.loads(h.dumps()) == h
        True
        """
        return json.dumps({"executor": "kubernetes", "v": HANDLE_VERSION, **asdict(self)})

    @classmethod
    def loads(cls, text: str) -> KubernetesHandle:
        body = handle_fields(text, "kubernetes", HANDLE_VERSION)
        try:
            handle = cls(**{f.name: body[f.name] for f in fields(cls) if f.name in body})
        except TypeError as exc:
            raise BadHandle(f"invalid kubernetes executor handle: {exc}") from exc
        if not all(isinstance(getattr(handle, n), kind) for n, kind in _HANDLE_TYPES):
            raise BadHandle("invalid kubernetes executor handle: a field of the wrong type")
        if not _JOB_ID.match(handle.job_id) or handle.name != job_name(
            handle.job_id, handle.attempt
        ):
            raise BadHandle("invalid kubernetes executor handle: bad job id or name")
        return handle

    @property
    def selector(self) -> str:
        """The label selector of the attempt's pods."""
        return f"batch.kubernetes.io/job-name={self.name}"


def _owns(obj: dict[str, object], h: KubernetesHandle) -> bool:
    """Whether a listed pod belongs to the attempt (the emulator ignores selectors)."""
    meta = obj.get("metadata")
    tags = meta.get("labels") if isinstance(meta, dict) else None
    if not isinstance(tags, dict):
        return False
    return tags.get("batch.kubernetes.io/job-name", tags.get("job-name")) == h.name


class KubernetesExecutor:
    """Jobs as Kubernetes Jobs; see the module documentation."""

    name = "kubernetes"

    def __init__(
        self,
        api: KubeApi,
        options: PodOptions,
        *,
        records_dir: Path,
        max_jobs: int | None = None,
    ) -> None:
        self.api = api
        self.options = options
        self.records_dir = Path(records_dir)
        #: the executor's own limit on jobs at once (the engine's admission applies it)
        self.max_jobs = max_jobs

    # -- submit ---------------------------------------------------------------------------------

    def submit(self, launch: Launch) -> str:
        if not _JOB_ID.match(launch.job_id):
            raise SubmitFailed(f"invalid job id for the kubernetes executor: {launch.job_id!r}")
        ns, body = self.options.namespace, job_manifest(launch, self.options)
        name = body["metadata"]["name"]
        try:
            job = self.api.create_job(ns, body)
        except KubernetesApiError as exc:
            if exc.status != 409:
                raise SubmitFailed(exc.message) from None
            job = self._existing(launch, name)
        try:
            self.api.create_secret(ns, secret_manifest(launch, self.options, job))
        except KubernetesApiError as exc:
            if exc.status != 409:
                self.api.delete_job(ns, name, 0)
                raise SubmitFailed(f"{exc.message} (the Job {name} was deleted again)") from None
        uid = job.get("metadata", {}).get("uid")
        handle = KubernetesHandle(
            launch.job_id, launch.attempt, ns, name, uid, launch.limits.memory_mb
        )
        return handle.dumps()

    def _existing(self, launch: Launch, name: str) -> dict[str, object]:
        """The Job of this attempt made earlier (by an engine that died before it was told)."""
        job = self.api.read_job(self.options.namespace, name)
        tags = (job or {}).get("metadata", {}).get("labels") or {}
        if job is None or tags.get(ATTEMPT_LABEL) != str(launch.attempt):
            raise SubmitFailed(f"a Job named {name} exists and is not this attempt's")
        return job

    # -- follow ---------------------------------------------------------------------------------

    def _run_dir(self, h: KubernetesHandle) -> Path:
        return self.records_dir / h.job_id / f"a{h.attempt}"

    def _pods(self, h: KubernetesHandle) -> list[dict[str, object]]:
        return [p for p in self.api.list_pods(h.namespace, h.selector) if _owns(p, h)]

    def _cluster_status(self, h: KubernetesHandle) -> ExecStatus:
        job = self.api.read_job(h.namespace, h.name)
        pods = self._pods(h) if job is not None else []
        return status_of(h.name, job, pods, uid=h.uid, memory_mb=h.memory_mb)

    def poll(self, handle: str) -> ExecStatus:
        h = KubernetesHandle.loads(handle)
        recorded = read_exit(self._run_dir(h))
        if recorded is not None:
            return recorded
        return self._cluster_status(h)

    # -- stop -----------------------------------------------------------------------------------

    def _record(self, h: KubernetesHandle, status: Exited, log: bytes | None) -> None:
        run_dir = self._run_dir(h)
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if log is not None:
            write_atomic(run_dir / LOG_FILE, log.decode("utf-8", "replace"))
        launcher.write_status(run_dir, status.code, status.reason, status.limit)

    def _pod_log(
        self, h: KubernetesHandle, pods: list[dict[str, object]], limit: int | None = None
    ) -> bytes | None:
        """The log of the attempt's pod; None before its container started (or without one)."""
        pod = newest(pods)
        if pod is None or not started(pod):
            return None
        meta = pod.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if not isinstance(name, str):
            return None
        return self.api.read_pod_log(h.namespace, name, limit)

    def _delete_and_wait(
        self, h: KubernetesHandle, grace_s: float
    ) -> tuple[int | None, bytes | None, float]:
        """Delete the Job (foreground) and wait until it is gone; the last exit code and log
        seen meanwhile, and how long it took."""
        started = time.monotonic()
        grace = max(1, math.ceil(grace_s)) if grace_s > 0 else 0
        code: int | None = None
        log: bytes | None = None
        with contextlib.suppress(KubernetesApiError):
            pods = self._pods(h)
            log = self._pod_log(h, pods) or log
        self.api.delete_job(h.namespace, h.name, grace)
        deadline = started + grace + KILL_WAIT_S
        while self.api.read_job(h.namespace, h.name) is not None:
            with contextlib.suppress(KubernetesApiError):
                pods = self._pods(h)
                ended = next((t for p in pods if (t := terminated(p)) is not None), None)
                if ended is not None:
                    code = int(ended.get("exitCode", KILLED))
                log = self._pod_log(h, pods) or log
            if time.monotonic() >= deadline:
                break
            time.sleep(WAIT_STEP_S)
        return code, log, time.monotonic() - started

    def terminate(self, handle: str, grace_s: float) -> None:
        h = KubernetesHandle.loads(handle)
        status = self.poll(handle)
        if not isinstance(status, Pending | Running):
            return
        code, log, took = self._delete_and_wait(h, grace_s if isinstance(status, Running) else 0)
        if code is None:  # gone before its pod said: by the signal that must have stopped it
            code = (
                128 + signal.SIGTERM if isinstance(status, Running) and took < grace_s else KILLED
            )
        reason = "stopped by vatti: its Kubernetes Job was deleted"
        self._record(h, Exited(code, reason), log)

    def cleanup(self, handle: str) -> None:
        h = KubernetesHandle.loads(handle)
        self.terminate(handle, 0.0)
        if read_exit(self._run_dir(h)) is None:
            status = self._cluster_status(h)
            if isinstance(status, Exited):
                log = None
                with contextlib.suppress(KubernetesApiError):
                    log = self._pod_log(h, self._pods(h))
                self._record(h, status, log)
        if self.api.read_job(h.namespace, h.name) is not None:
            self._delete_and_wait(h, 0.0)
        self.api.delete_secret(h.namespace, secret_name(h.job_id, h.attempt))

    # -- logs and records -----------------------------------------------------------------------

    def read_log(
        self, handle: str, offset: int = 0, limit: int = LOG_CHUNK_BYTES
    ) -> LogChunk | None:
        h = KubernetesHandle.loads(handle)
        start, size = max(0, offset), max(0, limit)
        saved = self._run_dir(h) / LOG_FILE
        data: bytes | None = None
        if read_exit(self._run_dir(h)) is None or not saved.is_file():
            data = self._pod_log(h, self._pods(h), start + size)
        if data is None:
            try:
                data = saved.read_bytes()
            except FileNotFoundError:
                return None
        chunk = data[start : start + size]
        return LogChunk(chunk, start + len(chunk))

    def _labelled(self) -> Iterator[tuple[str, str, str]]:
        """(kind, name, job id) of every Job and Secret labelled as vatti's and not being deleted
        (selectors are checked here again: not every server applies them)."""
        ns = self.options.namespace
        listed = [
            ("Job", self.api.list_jobs(ns, MANAGED_SELECTOR)),
            ("Secret", self.api.list_secrets(ns, MANAGED_SELECTOR)),
        ]
        for kind, items in listed:
            for obj in items:
                meta = obj.get("metadata") or {}
                tags = meta.get("labels") or {}
                job_id, name = tags.get(JOB_ID_LABEL), meta.get("name")
                deleting = meta.get("deletionTimestamp") is not None
                if tags.get(MANAGED_BY_LABEL) == MANAGED_BY and job_id and name and not deleting:
                    yield kind, str(name), str(job_id)

    def run_ids(self) -> list[str]:
        """Jobs with records here, or with Jobs or Secrets labelled as vatti's in the cluster."""
        found = {job_id for _, _, job_id in self._labelled()}
        if self.records_dir.is_dir():
            found.update(p.name for p in self.records_dir.iterdir() if p.is_dir())
        return sorted(found)

    def delete_run(self, job_id: str) -> None:
        """Delete the job's Jobs (foreground) and Secrets in the cluster, then its records."""
        if not _JOB_ID.match(job_id):
            return
        ns = self.options.namespace
        for kind, name, owner in list(self._labelled()):
            if owner != job_id:
                continue
            if kind == "Secret":
                self.api.delete_secret(ns, name)
            else:
                self.api.delete_job(ns, name, 0)
        shutil.rmtree(self.records_dir / job_id, ignore_errors=True)

    def close(self) -> None:
        close = getattr(self.api, "close", None)
        if callable(close):
            close()


def pod_options(settings: Settings, entry: str | None = None) -> PodOptions:
    from vatti.config import parse_names, parse_node_selector, parse_tolerations

    k8s = settings.kubernetes
    if k8s is None or not k8s.k8s_image:
        from vatti.executors.errors import ExecutorError

        raise ExecutorError("VATTI_K8S_IMAGE: required when VATTI_EXECUTOR is kubernetes")
    extra = {"entry": entry} if entry else {}
    return PodOptions(
        image=k8s.k8s_image,
        namespace=k8s.k8s_namespace,
        python=k8s.k8s_python,
        service_account=k8s.k8s_service_account,
        node_selector=parse_node_selector(k8s.k8s_node_selector),
        tolerations=parse_tolerations(k8s.k8s_tolerations),
        image_pull_secrets=parse_names(k8s.k8s_image_pull_secrets),
        ttl_after_finished_s=k8s.k8s_ttl_after_finished,
        cpus=k8s.k8s_cpus_per_job,
        **extra,  # type: ignore[arg-type]
    )


def from_settings(settings: Settings) -> KubernetesExecutor:
    """The registry's factory (``VATTI_EXECUTOR=kubernetes``)."""
    from vatti.executors.kubernetes_api import ClientApi

    options = pod_options(settings)
    k8s = settings.kubernetes
    assert k8s is not None  # pod_options checked
    api = ClientApi(k8s.k8s_kubeconfig, k8s.k8s_context)
    return KubernetesExecutor(
        api,
        options,
        records_dir=settings.data_dir / "kubernetes" / "runs",
        max_jobs=k8s.k8s_max_jobs,
    )
