"""What the Kubernetes executor asks of the API server, and the official client doing it.

:class:`KubeApi` is the executor's port: plain dicts in and out (the objects as the API server
sends them), None for an object that is not there. :class:`ClientApi` implements it with the
official ``kubernetes`` client (``pip install 'vatti[k8s]'``, imported here only), from a
kubeconfig file or the pod's in-cluster service account; API errors become
:class:`KubernetesApiError` (with the server's status and reason, never the request body).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from vatti.executors.errors import ExecutorError

Obj = dict[str, Any]
T = TypeVar("T")


class KubernetesApiError(ExecutorError):
    """The API server refused a request, or could not be reached."""

    code = "executor_kubernetes_api"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        #: unreachable, overloaded (429) or failing (5xx): the engine's loops try again later;
        #: a refusal (403: the Role lacks a verb) stops them loudly
        self.transient = status is None or status == 429 or status >= 500


#: the RBAC permissions :class:`KubeApi` needs, by (API group, resource): what the chart's Role
#: grants, and nothing more (``deploy/helm/vatti/templates/rbac.yaml``; both checked by tests)
PERMISSIONS: Final[dict[tuple[str, str], frozenset[str]]] = {
    ("batch", "jobs"): frozenset({"create", "get", "list", "delete"}),
    ("", "pods"): frozenset({"list"}),
    ("", "pods/log"): frozenset({"get"}),
    ("", "secrets"): frozenset({"create", "list", "delete"}),
}


class KubeApi(Protocol):
    def create_job(self, namespace: str, body: Mapping[str, Any]) -> Obj: ...

    def read_job(self, namespace: str, name: str) -> Obj | None: ...

    def delete_job(self, namespace: str, name: str, grace_s: int | None) -> bool:
        """Delete with foreground propagation; False when it was not there."""
        ...

    def list_jobs(self, namespace: str, selector: str) -> list[Obj]: ...

    def list_pods(self, namespace: str, selector: str) -> list[Obj]: ...

    def create_secret(self, namespace: str, body: Mapping[str, Any]) -> Obj: ...

    def delete_secret(self, namespace: str, name: str) -> bool: ...

    def list_secrets(self, namespace: str, selector: str) -> list[Obj]: ...

    def read_pod_log(self, namespace: str, pod: str, limit_bytes: int | None) -> bytes | None: ...


class ClientApi:
    """:class:`KubeApi` over the official client; see the module documentation."""

    def __init__(
        self, kubeconfig: Path | None = None, context: str | None = None, host: str | None = None
    ) -> None:
        try:
            from kubernetes import client, config
        except ImportError as exc:  # pragma: no cover - the registry says which extra
            raise ExecutorError(
                "the kubernetes executor needs the 'k8s' extra: pip install 'vatti[k8s]'"
            ) from exc
        configuration = client.Configuration()
        if host is not None:  # an explicit endpoint (tests: the emulator on loopback)
            configuration.host = host
        elif kubeconfig is not None:
            config.load_kube_config(
                config_file=str(kubeconfig), context=context, client_configuration=configuration
            )
        else:
            config.load_incluster_config(client_configuration=configuration)
        # the server's objects are read as they are (a field a model wants may be missing)
        configuration.client_side_validation = False
        self._client = client.ApiClient(configuration)
        self._batch = client.BatchV1Api(self._client)
        self._core = client.CoreV1Api(self._client)
        self._error = client.ApiException
        from urllib3.exceptions import HTTPError

        self._transport_error = HTTPError

    def close(self) -> None:
        """Close the client's thread pool and its connections to the API server."""
        self._client.close()
        self._client.rest_client.pool_manager.clear()

    def _plain(self, model: Any) -> Any:
        """The client's model object as the API's JSON (camelCase keys, plain values)."""
        return self._client.sanitize_for_serialization(model)

    def _call(self, what: str, fn: Callable[[], T], *, missing_ok: bool = False) -> T | None:
        try:
            return fn()
        except self._error as exc:
            if missing_ok and exc.status == 404:
                return None
            raise KubernetesApiError(
                f"Kubernetes API: {what} failed: {exc.status} {exc.reason}", exc.status
            ) from None
        except (OSError, self._transport_error) as exc:  # unreachable, reset, timed out
            raise KubernetesApiError(f"Kubernetes API: {what} failed: {exc}") from None

    def create_job(self, namespace: str, body: Mapping[str, Any]) -> Obj:
        created = self._call(
            "creating a Job",
            lambda: self._plain(self._batch.create_namespaced_job(namespace, dict(body))),
        )
        return dict(created or {})

    def read_job(self, namespace: str, name: str) -> Obj | None:
        return self._call(
            f"reading Job {name}",
            lambda: self._plain(self._batch.read_namespaced_job(name, namespace)),
            missing_ok=True,
        )

    def delete_job(self, namespace: str, name: str, grace_s: int | None) -> bool:
        done = self._call(
            f"deleting Job {name}",
            lambda: self._batch.delete_namespaced_job(
                name, namespace, propagation_policy="Foreground", grace_period_seconds=grace_s
            ),
            missing_ok=True,
        )
        return done is not None

    def _items(self, what: str, fn: Callable[[], Any]) -> list[Obj]:
        body = self._call(what, lambda: self._plain(fn())) or {}
        return list(body.get("items") or [])

    def list_jobs(self, namespace: str, selector: str) -> list[Obj]:
        return self._items(
            "listing Jobs",
            lambda: self._batch.list_namespaced_job(namespace, label_selector=selector),
        )

    def list_pods(self, namespace: str, selector: str) -> list[Obj]:
        return self._items(
            "listing pods",
            lambda: self._core.list_namespaced_pod(namespace, label_selector=selector),
        )

    def create_secret(self, namespace: str, body: Mapping[str, Any]) -> Obj:
        created = self._call(
            "creating a Secret",
            lambda: self._plain(self._core.create_namespaced_secret(namespace, dict(body))),
        )
        return dict(created or {})

    def delete_secret(self, namespace: str, name: str) -> bool:
        done = self._call(
            f"deleting Secret {name}",
            lambda: self._core.delete_namespaced_secret(name, namespace),
            missing_ok=True,
        )
        return done is not None

    def list_secrets(self, namespace: str, selector: str) -> list[Obj]:
        return self._items(
            "listing Secrets",
            lambda: self._core.list_namespaced_secret(namespace, label_selector=selector),
        )

    def read_pod_log(self, namespace: str, pod: str, limit_bytes: int | None) -> bytes | None:
        def read() -> bytes:
            # raw bytes: the client would try the log as JSON, and give str() of the bytes
            response = self._core.read_namespaced_pod_log(
                pod, namespace, limit_bytes=limit_bytes, _preload_content=False
            )
            try:
                return bytes(response.data)
            finally:
                response.release_conn()

        try:
            return self._call(f"reading the log of pod {pod}", read, missing_ok=True)
        except KubernetesApiError as exc:
            if exc.status == 400:  # the container has not started yet: no log
                return None
            raise
