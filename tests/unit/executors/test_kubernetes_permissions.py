"""The RBAC permissions the Kubernetes executor declares are those its API port uses."""

import inspect

from vatti.executors.kubernetes_api import PERMISSIONS, KubeApi

VERBS = {"create": "create", "read": "get", "delete": "delete", "list": "list"}
RESOURCES = {
    "job": ("batch", "jobs"),
    "jobs": ("batch", "jobs"),
    "pods": ("", "pods"),
    "secret": ("", "secrets"),
    "secrets": ("", "secrets"),
    "pod_log": ("", "pods/log"),
}


def test_every_call_of_the_api_port_has_its_permission_and_no_more() -> None:
    used: dict[tuple[str, str], set[str]] = {}
    for name, _ in inspect.getmembers(KubeApi, inspect.isfunction):
        if name.startswith("_"):
            continue
        action, _, noun = name.partition("_")
        used.setdefault(RESOURCES[noun], set()).add(VERBS[action])
    assert used == {k: set(v) for k, v in PERMISSIONS.items()}
