"""Checks of the objects the Kubernetes executor sends: the Kubernetes schemas, strictly, offline
(``kubernetes-validate --strict``: no unknown field, every type right), and the enum values those
schemas do not check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from vatti.testing.kube_api import ApiServerThread
from vatti.testing.services import missing

#: enum values the schemas leave unchecked: (path, allowed values); ``*`` is every list item
ENUMS: tuple[tuple[str, frozenset[str]], ...] = (
    ("spec.template.spec.restartPolicy", frozenset({"Never", "OnFailure"})),
    (
        "spec.template.spec.containers.*.imagePullPolicy",
        frozenset({"Always", "IfNotPresent", "Never"}),
    ),
    (
        "spec.template.spec.containers.*.terminationMessagePolicy",
        frozenset({"File", "FallbackToLogsOnError"}),
    ),
    (
        "spec.template.spec.securityContext.seccompProfile.type",
        frozenset({"RuntimeDefault", "Localhost", "Unconfined"}),
    ),
    ("spec.template.spec.tolerations.*.operator", frozenset({"Equal", "Exists"})),
    (
        "spec.template.spec.tolerations.*.effect",
        frozenset({"NoSchedule", "PreferNoSchedule", "NoExecute"}),
    ),
    ("spec.template.spec.containers.*.securityContext.capabilities.drop.*", frozenset({"ALL"})),
    ("type", frozenset({"Opaque"})),
)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def values_at(obj: Any, path: str) -> list[Any]:
    """The values at a dotted ``path`` (``*`` for each item of a list).

    >>> values_at({"a": [{"b": 1}, {"b": 2}, {}]}, "a.*.b")
    [1, 2]
    """
    found = [obj]
    for part in path.split("."):
        step: list[Any] = []
        for item in found:
            if part == "*" and isinstance(item, list):
                step.extend(item)
            elif isinstance(item, Mapping) and part in item:
                step.append(item[part])
        found = step
    return found


def assert_valid(body: Mapping[str, Any]) -> None:
    """Fail unless ``body`` is valid for the Kubernetes schemas (strict) and its enums."""
    try:
        import kubernetes_validate
    except ImportError:
        missing("kubernetes-validate", "pip install -e '.[dev]'")
    kind = f"{body.get('kind')} {body.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(dict(body), kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as exc:
        raise AssertionError(
            f"{kind} is not a valid object: {exc.message} at {list(exc.path)}"
        ) from None
    for path, allowed in ENUMS:
        for value in values_at(body, path):
            assert value in allowed, f"{kind}: {path} = {value!r}, not one of {sorted(allowed)}"
    name = str(body.get("metadata", {}).get("name", ""))
    assert _DNS_LABEL.match(name), f"{kind}: the name is not a DNS label"


def requests_to(api: ApiServerThread, namespace: str, plural: str, method: str) -> list[Any]:
    """The requests of ``method`` to the ``plural`` resource (and its objects) in ``namespace``."""
    marker = f"/namespaces/{namespace}/{plural}"
    return [
        r
        for r in api.requests()
        if marker in r.url.path and str(r.method.value).upper() == method.upper()
    ]


def created_bodies(api: ApiServerThread, namespace: str) -> list[dict[str, Any]]:
    """The Jobs and Secrets created in ``namespace``, as sent (the server added the uid)."""
    return [
        dict(r.data)
        for plural in ("jobs", "secrets")
        for r in requests_to(api, namespace, plural, "POST")
        if isinstance(r.data, dict)
    ]
