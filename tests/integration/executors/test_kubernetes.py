"""The Kubernetes executor against kmock's API emulator (``kube_api``, once per session).

The executor contract runs with a test-side node (:mod:`vatti.testing.kubelet`) playing the Job
controller, the kubelet and the garbage collector, so its jobs really run. The other tests
drive the Job and pod statuses themselves, with the shapes a real cluster reports, and assert
the requests vatti sends: the Job and its Secret (valid for the Kubernetes schemas, strictly),
the owner reference, the foreground deletion, the labels the sweeper lists by.
"""

from __future__ import annotations

import secrets as random_secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from vatti.executors.kubernetes import KubernetesExecutor
from vatti.executors.kubernetes_api import ClientApi
from vatti.executors.kubernetes_objects import PodOptions
from vatti.testing.executors import (
    ExecutorContract,
    ExecutorRig,
    closing_all,
    data_dir_for_jobs,
)
from vatti.testing.job_scripts import ENTRY
from vatti.testing.kube_api import ApiServerThread
from vatti.testing.kube_objects import assert_valid, created_bodies
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

    def executor(self, **options: Any) -> KubernetesExecutor:
        pod = PodOptions(
            image=IMAGE,
            namespace=self.namespace,
            wall_time_margin_s=MARGIN_S,
            entry=ENTRY,
            **options,
        )
        return KubernetesExecutor(
            ClientApi(host=self.api.url), pod, records_dir=self.root / "records"
        )

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
        yield Cluster(kube_api, f"t-{random_secrets.token_hex(5)}", root)


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

    def isolated_rig(self, rig: ExecutorRig) -> Path:
        pytest.skip(
            "in Kubernetes a job is isolated by its pod (its own pid and mount namespaces, a "
            "non-root uid, no capabilities, a read-only root file system): the pod spec is "
            "asserted in tests/unit/executors/test_kubernetes_objects.py; the test-side node "
            "runs processes on this machine and enforces none of it"
        )
