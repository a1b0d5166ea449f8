"""The Kubernetes executor against kmock's API emulator (``kube_api``, once per session).

The executor contract runs with a test-side node (:mod:`vatti.testing.kubelet`) playing the Job
controller, the kubelet and the garbage collector, so its jobs really run. The other tests
drive the Job and pod statuses themselves, with the shapes a real cluster reports, and assert
the requests vatti sends: the Job and its Secret (valid for the Kubernetes schemas, strictly),
the owner reference, the foreground deletion, the labels the sweeper lists by.
"""

from __future__ import annotations

import base64
import json
import secrets as random_secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vatti.executors.base import (
    MEMORY,
    WALL_TIME,
    Exited,
    Launch,
    Limits,
    Pending,
    Running,
    Vanished,
)
from vatti.executors.kubernetes import KubernetesExecutor, KubernetesHandle
from vatti.executors.kubernetes_api import ClientApi
from vatti.executors.kubernetes_objects import MANAGED_BY_LABEL, PodOptions, job_name
from vatti.testing.executors import (
    ExecutorContract,
    ExecutorRig,
    closing_all,
    data_dir_for_jobs,
    final,
    new_job_id,
    scripted,
    wait_for_log,
    wait_until,
    whole_log,
)
from vatti.testing.job_scripts import ENTRY
from vatti.testing.kube_api import ApiServerThread
from vatti.testing.kube_objects import assert_valid, created_bodies, requests_to
from vatti.testing.kubelet import Node

pytestmark = pytest.mark.integration

IMAGE = "registry.test/vatti:test"
#: the executor's margin over vatti's wall time (activeDeadlineSeconds is whole seconds)
MARGIN_S = 1.0


@dataclass
class Cluster:
    api: ApiServerThread
    namespace: str
    root: Path
    built: list[KubernetesExecutor] = field(default_factory=list)

    def executor(self, **options: Any) -> KubernetesExecutor:
        pod = PodOptions(
            image=IMAGE,
            namespace=self.namespace,
            wall_time_margin_s=MARGIN_S,
            entry=ENTRY,
            **options,
        )
        built = KubernetesExecutor(
            ClientApi(host=self.api.url), pod, records_dir=self.root / "records"
        )
        self.built.append(built)
        return built

    def node(self, images: set[str] | None = None) -> Node:
        node = Node(self.api, self.namespace, images={IMAGE} if images is None else images)
        node.root = self.root / "node"
        node.root.mkdir(mode=0o755, exist_ok=True)
        return node


@pytest.fixture
def cluster(kube_api: ApiServerThread) -> Iterator[Cluster]:
    """A namespace of the test's own, and a directory its jobs can reach."""
    with data_dir_for_jobs() as root:
        root.chmod(0o711)
        cluster = Cluster(kube_api, f"t-{random_secrets.token_hex(5)}", root)
        yield cluster
        for executor in cluster.built:  # its connections to the API server
            executor.close()


@pytest.fixture
def node(cluster: Cluster) -> Iterator[Node]:
    running = cluster.node().start()
    yield running
    running.stop()
    assert running.errors == []


class TestKubernetesExecutor(ExecutorContract):
    @pytest.fixture
    def rig(self, cluster: Cluster, node: Node) -> Iterator[ExecutorRig]:
        objects = cluster.root / "objects"
        objects.mkdir(mode=0o777)
        objects.chmod(0o777)
        env = {"VATTI_OBJECT_STORE_URL": objects.as_uri(), "VATTI_PGS_OFFLINE": "1"}
        shared = cluster.root / "shared"
        shared.mkdir()
        shared.chmod(0o1777)
        built = ExecutorRig(cluster.executor, objects.as_uri(), env, shared, MARGIN_S)
        with closing_all(built) as rig:
            yield rig
        for body in created_bodies(cluster.api, cluster.namespace):
            assert_valid(body)

    # In a cluster the pod is a job's isolation (its own pid and mount namespaces, a non-root
    # uid, no capabilities, a read-only root file system, no service-account token): the
    # test-side node runs processes on this machine and enforces none of it, so the contract's
    # two isolation tests become what vatti asks of the cluster for a job that really ran.

    def ran_pod(self, rig: ExecutorRig, cluster: Cluster) -> dict[str, Any]:
        ex = rig.executor()
        handle = ex.submit(scripted(new_job_id(), {"print": "isolated"}))
        assert final(ex, handle) == Exited(0), whole_log(ex, handle)
        ex.cleanup(handle)
        (job,) = [b for b in created_bodies(cluster.api, cluster.namespace) if b["kind"] == "Job"]
        pod: dict[str, Any] = job["spec"]["template"]["spec"]
        return pod

    def test_a_jobs_command_cannot_read_the_database_another_job_or_the_services_environ(
        self, rig: ExecutorRig, cluster: Cluster
    ) -> None:
        pod = self.ran_pod(rig, cluster)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        assert not {"hostPID", "hostIPC", "hostNetwork"} & {k for k, v in pod.items() if v}
        assert all("hostPath" not in v for v in pod.get("volumes", []))
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert all(
                "value" not in e or "SECRET" not in e["name"] for e in container.get("env", [])
            )

    def test_nothing_of_a_jobs_command_outlives_the_job(
        self, rig: ExecutorRig, cluster: Cluster
    ) -> None:
        pod = self.ran_pod(rig, cluster)
        assert pod["restartPolicy"] == "Never"
        deletes = requests_to(cluster.api, cluster.namespace, "jobs", "DELETE")
        assert deletes, "cleanup deleted no Job"
        assert {r.params.get("propagationPolicy") for r in deletes} == {"Foreground"}


# -- what vatti sends (no node: the tests say what the cluster does) ---------------------------


def api_object(cluster: Cluster, path: str) -> dict[str, Any] | None:
    node = cluster.node()  # its HTTP helper only; never started
    found: dict[str, Any] | None = node._http("GET", path)
    return found


def test_the_job_comes_first_then_its_secret_owned_by_the_jobs_uid(cluster: Cluster) -> None:
    ex, job_id = cluster.executor(), new_job_id()
    secret = f"s3cret-{random_secrets.token_hex(8)}"
    launch = Launch(job_id=job_id, secrets={"VATTI_TEST_SECRET": secret}, limits=Limits(256, 60))
    handle = ex.submit(launch)
    assert secret not in handle
    posts = [r for r in cluster.api.requests() if f"/namespaces/{cluster.namespace}/" in r.url.path]
    assert [r.url.path.rsplit("/", 1)[-1] for r in posts] == ["jobs", "secrets"]
    job_body, secret_body = (r.data for r in posts)
    assert secret not in json.dumps(job_body)  # neither in env values nor anywhere in the Job
    name = job_name(job_id, 1)
    stored = api_object(cluster, f"/apis/batch/v1/namespaces/{cluster.namespace}/jobs/{name}")
    assert stored is not None
    (owner,) = secret_body["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Job", name, stored["metadata"]["uid"])
    assert owner["blockOwnerDeletion"] is True
    assert KubernetesHandle.loads(handle).uid == stored["metadata"]["uid"]
    sent = json.loads(base64.b64decode(secret_body["data"]["secrets.json"]))
    assert sent["secrets"] == {"VATTI_TEST_SECRET": secret}
    for body in (job_body, secret_body):
        assert body["metadata"]["labels"][MANAGED_BY_LABEL] == "vatti"
        assert body["metadata"]["labels"]["vatti.io/job-id"] == job_id
        assert_valid(body)
    assert requests_to(cluster.api, cluster.namespace, "configmaps", "POST") == []


def test_a_restarted_engine_takes_over_a_job_it_made_but_never_recorded(cluster: Cluster) -> None:
    launch = Launch(job_id=new_job_id())
    first = cluster.executor().submit(launch)
    again = cluster.executor().submit(launch)  # the engine died before it stored the handle
    assert KubernetesHandle.loads(again) == KubernetesHandle.loads(first)
    assert len(requests_to(cluster.api, cluster.namespace, "jobs", "POST")) == 2  # one refused
    assert isinstance(cluster.executor().poll(again), Pending)


def create_pod(cluster: Cluster, name: str, status: dict[str, Any]) -> None:
    node = cluster.node()
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-q8v2x",
            "labels": {"batch.kubernetes.io/job-name": name, "job-name": name},
        },
        "spec": {"containers": [{"name": "job", "image": IMAGE}]},
        "status": status,
    }
    node._http("POST", f"/api/v1/namespaces/{cluster.namespace}/pods", pod)


def test_an_oom_killed_pod_is_the_memory_limit(cluster: Cluster) -> None:
    ex = cluster.executor()
    handle = ex.submit(Launch(job_id=new_job_id(), limits=Limits(memory_mb=512)))
    name = KubernetesHandle.loads(handle).name
    ended = {"exitCode": 137, "reason": "OOMKilled", "startedAt": "2026-12-03T10:00:00Z"}
    create_pod(
        cluster,
        name,
        {
            "phase": "Failed",
            "containerStatuses": [
                {
                    "name": "job",
                    "image": IMAGE,
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": ended},
                }
            ],
        },
    )
    status = ex.poll(handle)
    assert status == Exited(
        137, "killed by Kubernetes: out of memory (OOMKilled) at its limit of 512 MiB", MEMORY
    )


def test_the_sweeper_deletes_the_jobs_and_secrets_of_unknown_jobs(cluster: Cluster) -> None:
    from vatti.engine.context import EngineContext
    from vatti.engine.sweeper import sweep_once
    from vatti.store.memory import MemoryJobStore
    from vatti.testing.config import engine_config
    from vatti.testing.fakes import DictOutcomes, RecordingAreas

    ex = cluster.executor()
    orphan = new_job_id()
    ex.submit(Launch(job_id=orphan))
    assert orphan in ex.run_ids()
    ctx = EngineContext(
        store=MemoryJobStore(),
        executor=ex,
        areas=RecordingAreas(),
        outcomes=DictOutcomes(),
        config=engine_config(holder="test"),
    )
    assert sweep_once(ctx) >= 1
    deletes = requests_to(cluster.api, cluster.namespace, "jobs", "DELETE")
    assert [r.params.get("propagationPolicy") for r in deletes] == ["Foreground"]
    assert requests_to(cluster.api, cluster.namespace, "secrets", "DELETE") != []
    assert ex.run_ids() == []


# -- with the node: what a running cluster does ------------------------------------------------


def running_job(cluster: Cluster) -> tuple[KubernetesExecutor, str, str]:
    """An executor, the handle of a job it started that runs until stopped, and its Job's name."""
    ex = cluster.executor()
    handle = ex.submit(scripted(new_job_id(), {"pid": True, "sleep": 1000}))
    wait_for_log(ex, handle, r"pid=\d+\n")
    return ex, handle, KubernetesHandle.loads(handle).name


def test_terminate_deletes_the_job_in_the_foreground_and_its_secret_goes_with_it(
    cluster: Cluster, node: Node
) -> None:
    ex, handle, name = running_job(cluster)
    ex.terminate(handle, 5.0)
    (delete,) = requests_to(cluster.api, cluster.namespace, "jobs", "DELETE")
    assert delete.url.path.endswith(f"/jobs/{name}")
    assert (delete.params["propagationPolicy"], delete.params["gracePeriodSeconds"]) == (
        "Foreground",
        "5",
    )
    status = ex.poll(handle)
    assert isinstance(status, Exited)
    assert status.code == 128 + 15  # SIGTERM, passed on to the job by the pod's wrapper
    assert "stopped by vatti" in (status.reason or "")
    # the node's garbage collector deleted the Secret by its owner reference
    secrets = f"/api/v1/namespaces/{cluster.namespace}/secrets/{name}-secrets"
    assert api_object(cluster, secrets) is None
    assert b"pid=" in whole_log(ex, handle)  # kept after the pod went


def test_a_job_deleted_behind_vattis_back_fails_with_a_clear_reason(
    cluster: Cluster, node: Node
) -> None:
    ex, handle, name = running_job(cluster)
    cluster.node()._http("DELETE", f"/apis/batch/v1/namespaces/{cluster.namespace}/jobs/{name}")
    status = final(ex, handle)
    assert isinstance(status, Vanished)
    assert status.reason == (
        f"the Kubernetes Job {name} is gone: deleted outside vatti (or by its "
        "ttlSecondsAfterFinished)"
    )
    wait_until("the node to stop its pod", lambda: not node.containers)


def test_an_image_that_cannot_be_pulled_fails_the_job_with_the_kubelets_reason(
    cluster: Cluster,
) -> None:
    node = cluster.node(images=set()).start()
    try:
        ex = cluster.executor()
        handle = ex.submit(scripted(new_job_id(), {"print": "never"}))
        seen = [type(s) for s in (ex.poll(handle),)]
        status = final(ex, handle)
    finally:
        node.stop()
    assert seen == [Pending]
    assert isinstance(status, Exited)
    assert status.code == 127
    assert status.reason is not None
    assert "ImagePullBackOff" in status.reason
    assert IMAGE in status.reason
    assert node.errors == []


def test_the_wall_time_limit_is_the_jobs_active_deadline(cluster: Cluster, node: Node) -> None:
    ex = cluster.executor()
    handle = ex.submit(scripted(new_job_id(), {"sleep": 1000}, limits=Limits(wall_time_s=2)))
    (post,) = requests_to(cluster.api, cluster.namespace, "jobs", "POST")
    assert post.data["spec"]["activeDeadlineSeconds"] == 3  # 2 s + the 1 s margin
    status = final(ex, handle)
    assert isinstance(status, Exited)
    assert status.limit == WALL_TIME
    assert "DeadlineExceeded" in (status.reason or "")
    assert isinstance(ex.poll(handle), Exited)
    assert not isinstance(ex.poll(handle), Running)


def test_the_engine_builds_it_from_its_settings_and_a_kubeconfig(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vatti.config import Settings
    from vatti.executors.registry import build_executor

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emulator", "cluster": {"server": cluster.api.url}}],
                "users": [{"name": "vatti", "user": {"token": "emulator-accepts-any"}}],
                "contexts": [{"name": "test", "context": {"cluster": "emulator", "user": "vatti"}}],
                "current-context": "test",
            }
        )
    )
    for name, value in {
        "VATTI_EXECUTOR": "kubernetes",
        "VATTI_DATA_DIR": str(tmp_path / "data"),
        "VATTI_K8S_IMAGE": IMAGE,
        "VATTI_K8S_NAMESPACE": cluster.namespace,
        "VATTI_K8S_KUBECONFIG": str(kubeconfig),
        "VATTI_K8S_IMAGE_PULL_SECRETS": "regcred",
        "VATTI_K8S_MAX_JOBS": "5",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings.for_component("engine")
    ex = build_executor(settings, "kubernetes")
    assert isinstance(ex, KubernetesExecutor)
    assert ex.max_jobs == 5
    try:
        handle = ex.submit(Launch(job_id=new_job_id()))
        assert isinstance(ex.poll(handle), Pending)
    finally:
        ex.close()
    (post,) = requests_to(cluster.api, cluster.namespace, "jobs", "POST")
    pod = post.data["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["containers"][0]["image"] == IMAGE
    assert post.headers.get("Authorization") == "Bearer emulator-accepts-any"


# -- the engine on Kubernetes -------------------------------------------------------------------


def engine_on(cluster: Cluster, database_url: str) -> Any:
    from vatti.engine.context import EngineContext
    from vatti.engine.service import Engine
    from vatti.staging.areas import ObjectOutcomes, ObjectWorkAreas
    from vatti.staging.objects import ObjectStore
    from vatti.store.sql import open_store
    from vatti.testing.config import engine_config

    objects = cluster.root / "objects"
    objects.mkdir(mode=0o777, exist_ok=True)
    objects.chmod(0o777)
    env = {"VATTI_OBJECT_STORE_URL": objects.as_uri(), "VATTI_PGS_OFFLINE": "1"}
    ctx = EngineContext(
        store=open_store(database_url),
        executor=cluster.executor(),
        areas=ObjectWorkAreas(ObjectStore.from_url(objects.as_uri())),
        outcomes=ObjectOutcomes(ObjectStore.from_url(objects.as_uri())),
        config=engine_config(poll_interval_s=0.05, reconcile_interval_s=0.5, runtime_env=env),
    )
    return Engine(ctx)


async def run_job(engine: Any, on_change: Any = None) -> Any:
    from vatti.domain.fingerprint import fingerprint
    from vatti.domain.requests import JobRequest
    from vatti.engine.oneshot import follow_new_job
    from vatti.store.base import NewJob
    from vatti.testing.jobs import service_for

    req = JobRequest.model_validate(
        {"pipeline": "command", "params": {"command": "hello", "args": {"name": "Ada"}}}
    )
    new = NewJob(
        pipeline=req.pipeline, spec=req.model_dump(mode="json"), fingerprint=fingerprint(req)
    )
    return await follow_new_job(
        engine, lambda: service_for(engine).submit_new(new).job, on_change or (lambda _job: None)
    )


async def test_the_engine_runs_a_job_as_a_kubernetes_job_and_cleans_up(
    cluster: Cluster, node: Node, sqlite_database_url: str
) -> None:
    from vatti.domain.layout import result_key
    from vatti.domain.states import JobState

    engine = engine_on(cluster, sqlite_database_url)
    try:
        job = await run_job(engine)
    finally:
        engine.ctx.store.close()
    assert job.state is JobState.SUCCEEDED, job.failure
    hello = (cluster.root / "objects" / result_key(job.id, "hello.txt")).read_text()
    assert hello == f"hello, Ada (job {job.id})\n"
    saved = (cluster.root / "objects" / "jobs" / job.id / "logs" / "job.log").read_text()
    assert "runtime.start" in saved  # the pod's log, kept in the job's area
    name = job_name(job.id, 1)
    assert api_object(cluster, f"/apis/batch/v1/namespaces/{cluster.namespace}/jobs/{name}") is None
    secret = f"/api/v1/namespaces/{cluster.namespace}/secrets/{name}-secrets"
    assert api_object(cluster, secret) is None
    deletes = requests_to(cluster.api, cluster.namespace, "jobs", "DELETE")
    assert deletes
    assert {d.params["propagationPolicy"] for d in deletes} == {"Foreground"}


async def test_the_engine_fails_a_job_whose_kubernetes_job_was_deleted_behind_its_back(
    cluster: Cluster, sqlite_database_url: str
) -> None:
    from vatti.domain.failure import FailureCode
    from vatti.domain.states import JobState

    engine = engine_on(cluster, sqlite_database_url)
    path = f"/apis/batch/v1/namespaces/{cluster.namespace}/jobs"
    http = cluster.node()._http  # no node runs: the Job stays pending

    def delete_the_job() -> None:
        wait_until(
            "the engine to create the Job", lambda: bool((http("GET", path) or {}).get("items"))
        )
        (created,) = http("GET", path)["items"]
        http("DELETE", f"{path}/{created['metadata']['name']}")

    deleter = threading.Thread(target=delete_the_job)
    deleter.start()
    try:
        job = await run_job(engine)
    finally:
        deleter.join()
        engine.ctx.store.close()
    assert job.state is JobState.FAILED
    assert job.failure is not None
    assert job.failure.code == FailureCode.VANISHED
    assert "deleted outside vatti" in job.failure.message


def test_an_unreachable_api_server_is_a_transient_error_a_refusal_is_not() -> None:
    import socket

    from vatti.executors.kubernetes_api import KubernetesApiError

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = ClientApi(host=f"http://127.0.0.1:{port}")
    api._client.configuration.retries = 0
    try:
        with pytest.raises(KubernetesApiError) as caught:
            api.read_job("default", "vatti-j1-a1")
    finally:
        api.close()
    assert caught.value.transient  # the engine's loops retry; they do not stop
    assert caught.value.status is None
    assert not KubernetesApiError("forbidden", 403).transient
    assert KubernetesApiError("overloaded", 429).transient
