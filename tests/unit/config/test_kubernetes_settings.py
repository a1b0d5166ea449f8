"""The Kubernetes settings: shown under the engine, checked only for the Kubernetes executor."""

from __future__ import annotations

import os

import pytest

from vatti.config import COMPONENTS, KubernetesSettings, Settings, variables
from vatti.errors import ConfigError

pytestmark = pytest.mark.unit

NAMES = {
    "VATTI_K8S_NAMESPACE",
    "VATTI_K8S_IMAGE",
    "VATTI_K8S_PYTHON",
    "VATTI_K8S_SERVICE_ACCOUNT",
    "VATTI_K8S_NODE_SELECTOR",
    "VATTI_K8S_TOLERATIONS",
    "VATTI_K8S_IMAGE_PULL_SECRETS",
    "VATTI_K8S_KUBECONFIG",
    "VATTI_K8S_CONTEXT",
    "VATTI_K8S_TTL_AFTER_FINISHED",
    "VATTI_K8S_CPUS_PER_JOB",
    "VATTI_K8S_MAX_JOBS",
}


@pytest.fixture(autouse=True)
def no_vatti_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("VATTI_"):
            monkeypatch.delenv(name)


def test_the_engine_and_cli_show_them_and_a_job_never_gets_them() -> None:
    assert {v.name for v in variables(KubernetesSettings)} == NAMES
    for component in ("engine", "cli"):
        names = {v.name for g in COMPONENTS[component].groups for v in variables(g)}
        assert names >= NAMES
    assert KubernetesSettings not in COMPONENTS["runtime"].groups


def test_the_image_is_required_only_for_the_kubernetes_executor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings.for_component("engine").kubernetes == KubernetesSettings()
    monkeypatch.setenv("VATTI_EXECUTOR", "kubernetes")
    with pytest.raises(ConfigError) as caught:
        Settings.for_component("engine")
    assert "VATTI_K8S_IMAGE: required when VATTI_EXECUTOR is kubernetes" in caught.value.message
    monkeypatch.setenv("VATTI_K8S_IMAGE", "registry.test/vatti:1.0")
    assert Settings.for_component("engine").kubernetes is not None


def test_names_selectors_and_tolerations_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_K8S_NAMESPACE", "Not_A_Name")
    monkeypatch.setenv("VATTI_K8S_NODE_SELECTOR", "disktype")
    monkeypatch.setenv("VATTI_K8S_TOLERATIONS", '[{"key": "gpu", "operator": "Maybe"}]')
    monkeypatch.setenv("VATTI_K8S_IMAGE_PULL_SECRETS", "ok,Bad Name")
    monkeypatch.setenv("VATTI_K8S_TTL_AFTER_FINISHED", "-1")
    with pytest.raises(ConfigError) as caught:
        Settings.for_component("engine")
    named = [line.partition(":")[0] for line in caught.value.message.splitlines()[1:]]
    assert named == [
        "VATTI_K8S_NAMESPACE",
        "VATTI_K8S_NODE_SELECTOR",
        "VATTI_K8S_TOLERATIONS",
        "VATTI_K8S_IMAGE_PULL_SECRETS",
        "VATTI_K8S_TTL_AFTER_FINISHED",
    ]
