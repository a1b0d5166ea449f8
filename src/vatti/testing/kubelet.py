"""A test-side Kubernetes node: plays the Job controller, the kubelet and the garbage collector
against the API emulator (:mod:`vatti.testing.kube_api`), so jobs the executor creates really run.

Every :data:`TICK_S` it reads the Jobs of its namespace and, like the real components:

- **Job controller**: makes one Pod per new Job (the template's labels plus
  ``batch.kubernetes.io/job-name``, an owner reference to the Job), sets the Job's
  ``startTime``/``active``; when the pod ends, the Job's ``succeeded``/``failed`` and its
  ``Complete`` or ``Failed`` (``BackoffLimitExceeded``) conditions, with the
  ``SuccessCriteriaMet``/``FailureTarget`` ones before them; past ``activeDeadlineSeconds``
  it stops the pod and fails the Job with ``DeadlineExceeded``.
- **kubelet**: waits for the Secret a pod mounts (``ContainerCreating`` meanwhile), refuses an
  image it does not have (``ErrImagePull``, then ``ImagePullBackOff``), realises each
  ``emptyDir`` and the Secret volume as host directories (the Secret's keys as files, 0400) and
  rewrites the mount paths in the command and environment to them, then runs the container's
  command as a local process in a session of its own (its ``python`` is this interpreter);
  the pod's log is the process's output. A container is stopped as a runtime stops one: SIGTERM
  to its first process, SIGKILL to everything of its session after the grace; when it ends,
  every process left in its session is killed (the pid namespace goes).
- **garbage collector**: a Job being deleted in the foreground has its pods stopped (with the
  delete's grace) and deleted, then every object whose owner reference names the Job's uid
  (its Secret), then the finalizer; a Job deleted otherwise loses its pods and dependents
  at once.

What it does not do: cgroups (the memory limit is the wrapper's ``RLIMIT_AS``, so there is no
``OOMKilled``), ``runAsUser`` and the read-only root file system (the processes run as the
test's user on this machine's file system), scheduling, node selectors and tolerations.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets as random_secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from vatti.executors.kubernetes_objects import owner_reference
from vatti.testing.kube_api import ApiServerThread, now_iso

TICK_S: Final = 0.02
#: how long a stopped pod's final status shows before the pod is deleted (the kubelet syncs the
#: status, then deletes the pod)
STATUS_SYNC_S: Final = 0.25
JOB_NAME_LABEL: Final = "batch.kubernetes.io/job-name"
DEADLINE_MESSAGE: Final = "Job was active longer than specified deadline"


def session_pids(sid: int) -> list[int]:
    """The processes of session ``sid`` (from ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 3 and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found


def kill_session(sid: int) -> None:
    for pid in session_pids(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@dataclass
class Container:
    """One pod's running container: its process, host dirs, log and how it is being stopped."""

    pod: str
    job: str
    process: subprocess.Popen[bytes] | None
    dirs: list[Path]
    log: Path
    started: float = field(default_factory=time.monotonic)
    kill_at: float | None = None
    code: int | None = None
    #: when its final status was reported (the pod is deleted :data:`STATUS_SYNC_S` later)
    reported: float = 0.0


class Node:
    """The node of one namespace; see the module documentation."""

    def __init__(
        self,
        api: ApiServerThread,
        namespace: str,
        *,
        images: set[str],
        python_name: str = "python",
        root: Path | None = None,
    ) -> None:
        self.api, self.namespace, self.images = api, namespace, images
        self.python_name = python_name
        self.root = Path(root or tempfile.mkdtemp(prefix="vatti-node-"))
        self.containers: dict[str, Container] = {}  # by pod name
        self.pulls: dict[str, int] = {}  # failed pulls by pod
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"node-{namespace}", daemon=True)

    # -- the API ------------------------------------------------------------------------------

    def _http(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        kind = "application/merge-patch+json" if method == "PATCH" else "application/json"
        request = urllib.request.Request(  # noqa: S310 -- the emulator on loopback
            self.api.url + path, data=data, method=method, headers={"Content-Type": kind}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- loopback
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            exc.close()  # its response, and so its connection
            if exc.code == 404:
                return None
            raise

    def _jobs_path(self, name: str = "") -> str:
        base = f"/apis/batch/v1/namespaces/{self.namespace}/jobs"
        return f"{base}/{name}" if name else base

    def _core_path(self, kind: str, name: str = "") -> str:
        base = f"/api/v1/namespaces/{self.namespace}/{kind}"
        return f"{base}/{name}" if name else base

    def _items(self, path: str) -> list[dict[str, Any]]:
        return list((self._http("GET", path) or {}).get("items") or [])

    def _job_status(self, name: str, status: dict[str, Any]) -> None:
        self._http("PATCH", self._jobs_path(name) + "/status", {"status": status})

    def _pod_status(self, name: str, status: dict[str, Any]) -> None:
        self._http("PATCH", self._core_path("pods", name) + "/status", {"status": status})

    # -- the loop -----------------------------------------------------------------------------

    def start(self) -> Node:
        self.api.log_reader = self.read_log
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for container in list(self.containers.values()):
            if container.process is not None and container.process.poll() is None:
                kill_session(container.process.pid)
                container.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def _loop(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.tick()
            except Exception as exc:  # the test sees it (node.errors) rather than a dead thread
                self.errors.append(exc)

    def tick(self) -> None:
        jobs = {j["metadata"]["name"]: j for j in self._items(self._jobs_path())}
        pods = {p["metadata"]["name"]: p for p in self._items(self._core_path("pods"))}
        by_job: dict[str, dict[str, Any]] = {}
        for pod in pods.values():
            owner = pod["metadata"].get("labels", {}).get(JOB_NAME_LABEL)
            if owner is not None:
                by_job[owner] = pod
        for name, job in jobs.items():
            mine = by_job.get(name)
            if job["metadata"].get("deletionTimestamp"):
                self._collect(job, mine)
            elif mine is None and not job.get("status", {}).get("startTime"):
                self._create_pod(job)
            elif mine is not None:
                self._run(job, mine)
        for owner, pod in by_job.items():  # a Job deleted in the background: its pods go
            if owner not in jobs and self._remove_pod(pod, 0):
                self._remove_dependents(pod["metadata"]["ownerReferences"][0]["uid"])

    # -- the Job controller -------------------------------------------------------------------

    def _create_pod(self, job: dict[str, Any]) -> None:
        meta, template = job["metadata"], job["spec"]["template"]
        name = f"{meta['name']}-{random_secrets.token_hex(3)}"
        labels = {
            **template.get("metadata", {}).get("labels", {}),
            JOB_NAME_LABEL: meta["name"],
            "job-name": meta["name"],
            "batch.kubernetes.io/controller-uid": meta["uid"],
        }
        owner = owner_reference(job)  # as the Job controller sets it
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels, "ownerReferences": [owner]},
            "spec": {**template["spec"], "nodeName": "vatti-test-node"},
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "True"}],
            },
        }
        self._http("POST", self._core_path("pods"), pod)
        self._job_status(meta["name"], {"startTime": now_iso(), "active": 1, "ready": 0})

    def _finish_job(self, job: dict[str, Any], code: int, *, deadline: bool = False) -> None:
        """The Job's status once its pod ended, as the Job controller writes it."""
        when = now_iso()
        if code == 0:
            said = {
                "reason": "CompletionsReached",
                "message": "Reached expected number of succeeded pods",
            }
            kinds, status = ("SuccessCriteriaMet", "Complete"), {"succeeded": 1}
            status["completionTime"] = when  # type: ignore[assignment]
        else:
            said = (
                {
                    "reason": "DeadlineExceeded",
                    "message": "Job was active longer than specified deadline",
                }
                if deadline
                else {
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            )
            kinds, status = ("FailureTarget", "Failed"), {"failed": 1}
        conditions = [
            {"type": kind, "status": "True", **said, "lastTransitionTime": when} for kind in kinds
        ]
        self._job_status(
            job["metadata"]["name"], {"active": 0, "ready": 0, **status, "conditions": conditions}
        )

    def _deadline_passed(self, job: dict[str, Any], container: Container) -> bool:
        deadline = job["spec"].get("activeDeadlineSeconds")
        return deadline is not None and time.monotonic() - container.started >= deadline

    # -- the kubelet --------------------------------------------------------------------------

    def _run(self, job: dict[str, Any], pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        container = self.containers.get(name)
        if container is None:
            if pod["status"].get("phase") == "Pending":
                self._start(job, pod)
            return
        if container.code is not None:
            return
        process = container.process
        if self._deadline_passed(job, container) and container.kill_at is None:
            said = {"reason": "DeadlineExceeded", "message": DEADLINE_MESSAGE}
            target = {"type": "FailureTarget", "status": "True", **said}
            self._job_status(job["metadata"]["name"], {"conditions": [target]})  # before the stop
            self._signal(container, pod["spec"].get("terminationGracePeriodSeconds", 30))
        if (
            container.kill_at is not None
            and process is not None
            and time.monotonic() >= container.kill_at
        ):
            kill_session(process.pid)
        if process is None or process.poll() is None:
            return
        self._ended(job, pod, container, process.returncode)

    def _signal(self, container: Container, grace_s: float) -> None:
        process = container.process
        if process is None or process.poll() is not None:
            return
        if container.kill_at is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            container.kill_at = time.monotonic() + grace_s

    def _ended(
        self, job: dict[str, Any], pod: dict[str, Any], container: Container, rc: int
    ) -> None:
        assert container.process is not None
        kill_session(container.process.pid)  # the pid namespace goes with its first process
        code = 128 - rc if rc < 0 else rc
        container.code = code
        ended = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": pod["status"].get("startTime"),
            "finishedAt": now_iso(),
            "containerID": f"containerd://{container.pod}",
        }
        self._pod_status(
            container.pod,
            {
                "phase": "Succeeded" if code == 0 else "Failed",
                "containerStatuses": [self._container_status(pod, {"terminated": ended})],
            },
        )
        self._finish_job(job, code, deadline=code != 0 and self._deadline_passed(job, container))

    def _container_status(self, pod: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        spec = pod["spec"]["containers"][0]
        return {
            "name": spec["name"],
            "image": spec["image"],
            "imageID": "",
            "ready": "running" in state,
            "restartCount": 0,
            "started": "running" in state,
            "state": state,
        }

    def _waiting(self, pod: dict[str, Any], reason: str, message: str) -> None:
        waiting = {"waiting": {"reason": reason, "message": message}}
        self._pod_status(
            pod["metadata"]["name"],
            {"phase": "Pending", "containerStatuses": [self._container_status(pod, waiting)]},
        )

    def _volumes(self, pod: dict[str, Any], base: Path) -> dict[str, Path] | None:
        """Host dirs of the pod's volumes by name; None while a Secret it mounts is missing."""
        found: dict[str, Path] = {}
        for volume in pod["spec"].get("volumes", []):
            path = base / volume["name"]
            if "secret" in volume:
                secret = self._http(
                    "GET", self._core_path("secrets", volume["secret"]["secretName"])
                )
                if secret is None:
                    return None
                path.mkdir(mode=0o700)
                for key, value in (secret.get("data") or {}).items():
                    (path / key).write_bytes(base64.b64decode(value))
                    (path / key).chmod(0o400)
            else:
                path.mkdir(mode=0o777)
                path.chmod(0o777)
            found[volume["name"]] = path
        return found

    def _start(self, job: dict[str, Any], pod: dict[str, Any]) -> None:
        name, spec = pod["metadata"]["name"], pod["spec"]["containers"][0]
        if spec["image"] not in self.images:
            failed = self.pulls[name] = self.pulls.get(name, 0) + 1
            reason = "ErrImagePull" if failed == 1 else "ImagePullBackOff"
            message = (
                "rpc error: code = NotFound desc = failed to pull and unpack image "
                f'"{spec["image"]}"'
                if failed == 1
                else f'Back-off pulling image "{spec["image"]}"'
            )
            self._waiting(pod, reason, message)
            return
        base = self.root / name
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)
        volumes = self._volumes(pod, base)
        if volumes is None:
            shutil.rmtree(base, ignore_errors=True)
            self._waiting(pod, "ContainerCreating", "")
            return
        mounts = {m["mountPath"]: volumes[m["name"]] for m in spec.get("volumeMounts", [])}

        def host(value: str) -> str:
            for mount, path in sorted(mounts.items(), key=lambda m: -len(m[0])):
                if value == mount or value.startswith(mount + "/"):
                    return str(path) + value[len(mount) :]
            return value

        command = [host(a) for a in [*spec.get("command", []), *spec.get("args", [])]]
        if command and command[0] == self.python_name:
            command[0] = sys.executable
        env = {e["name"]: host(e["value"]) for e in spec.get("env", []) if "value" in e}
        env.setdefault("PATH", os.environ.get("PATH", "/usr/bin:/bin"))
        env["KUBERNETES_SERVICE_HOST"] = "127.0.0.1"  # as a pod has it (the wrapper drops it)
        log = base / "container.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=host(spec.get("workingDir", str(base))),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.containers[name] = Container(name, job["metadata"]["name"], process, [base], log)
        running = {"running": {"startedAt": now_iso()}}
        self._pod_status(
            name,
            {
                "phase": "Running",
                "startTime": now_iso(),
                "podIP": "10.244.0.10",
                "containerStatuses": [self._container_status(pod, running)],
            },
        )
        self._job_status(job["metadata"]["name"], {"active": 1, "ready": 1})

    def read_log(self, namespace: str, pod: str, limit: int | None) -> bytes:
        from kmock import KubernetesError, KubernetesObjectNotFoundError

        container = self.containers.get(pod)
        if namespace != self.namespace or container is None:
            raise KubernetesObjectNotFoundError()
        if not container.log.exists():
            raise KubernetesError(
                400, "BadRequest", f'container "job" in pod "{pod}" is waiting to start'
            )
        data = container.log.read_bytes()
        return data if limit is None else data[:limit]

    # -- the garbage collector ----------------------------------------------------------------

    def _remove_pod(self, pod: dict[str, Any], grace_s: float) -> bool:
        """Stop the pod's container (with the grace), report its end, then (on a later tick, as
        the kubelet's final status sync comes before the deletion) delete it; whether gone."""
        name = pod["metadata"]["name"]
        container = self.containers.get(name)
        if container is not None and container.process is not None and container.code is None:
            process = container.process
            self._signal(container, grace_s)
            if container.kill_at is not None and time.monotonic() >= container.kill_at:
                kill_session(process.pid)
            if process.poll() is None:
                return False
            kill_session(process.pid)
            rc = process.returncode
            container.code = 128 - rc if rc < 0 else rc
            ended = {"exitCode": container.code, "reason": "Error", "finishedAt": now_iso()}
            status = self._container_status(pod, {"terminated": ended})
            self._pod_status(name, {"phase": "Failed", "containerStatuses": [status]})
            container.reported = time.monotonic()
            return False
        if container is not None and time.monotonic() - container.reported < STATUS_SYNC_S:
            return False
        self._http("DELETE", self._core_path("pods", name))
        if container is not None:
            for path in container.dirs:  # the emptyDir and the Secret volume go with the pod
                shutil.rmtree(path, ignore_errors=True)
            self.containers.pop(name, None)
        return True

    def _remove_dependents(self, uid: str) -> None:
        for secret in self._items(self._core_path("secrets")):
            owners = secret["metadata"].get("ownerReferences") or []
            if any(o.get("uid") == uid for o in owners):
                self._http("DELETE", self._core_path("secrets", secret["metadata"]["name"]))

    def _collect(self, job: dict[str, Any], pod: dict[str, Any] | None) -> None:
        meta = job["metadata"]
        if pod is not None:
            grace = meta.get("deletionGracePeriodSeconds")
            if grace is None:
                grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
            if not self._remove_pod(pod, float(grace)):
                return
        self._remove_dependents(meta["uid"])
        left = [f for f in meta.get("finalizers", []) if f != "foregroundDeletion"]
        self._http("PATCH", self._jobs_path(meta["name"]), {"metadata": {"finalizers": left}})
