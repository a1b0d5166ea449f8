"""The Helm chart, rendered and linted offline by Helm itself (helm-python-sdk: Helm's Go SDK
in a shared library, from its PyPI wheel, in a cached side environment) for a few value sets;
every rendered object validated with ``kubernetes-validate --strict`` (which does not check
enum values: those that matter are asserted here)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vatti.config import Settings
from vatti.deploy.chart import CHART_DIR, CHART_SET, WORKLOADS, workload_variables
from vatti.testing.services import missing
from vatti.testing.side_envs import ensure_side_env

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
REQUIREMENTS = ["helm-python-sdk==0.2.2", "kubernetes-validate==1.37.0"]
KUBE_VERSION = "1.37.0"
S3 = {"VATTI_OBJECT_STORE_URL": "s3://vatti-work/jobs"}
PRODUCTION = {
    "database": "postgresql",
    "existingSecret": "vatti-secrets",
    "env": {
        **S3,
        "VATTI_RESULTS_STORE_URL": "gs://vatti-results/jobs",
        "VATTI_EXECUTOR": "kubernetes",
    },
    "serve": {"replicas": 3, "env": {"VATTI_LOG_LEVEL": "DEBUG"}},
    "engine": {"replicas": 2},
    "worker": {"enabled": True},
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "hosts": [{"host": "vatti.example.org", "paths": [{"path": "/"}]}],
        "tls": [{"secretName": "vatti-tls", "hosts": ["vatti.example.org"]}],
    },
}


def every_plain_variable() -> dict[str, str]:
    return {
        v.name: f"value-of-{v.name}"
        for w in WORKLOADS
        for v in workload_variables(w)
        if not v.secret and v.name not in CHART_SET
    }


CASES: dict[str, dict[str, Any]] = {
    "sqlite": {},
    "sqlite-persistent": {"persistence": {"enabled": True, "storageClassName": "fast"}},
    "production": PRODUCTION,
    "jobs-namespace": {  # sqlite: serve's embedded engine is the executor's user
        "serve": {"env": {"VATTI_EXECUTOR": "kubernetes"}},
        "jobs": {"namespace": "vatti-jobs"},
    },
    "tls": {"serve": {"env": {"VATTI_TLS_CERT_FILE": "/tls/tls.crt"}}},
    "typed-values": {
        "env": {"VATTI_S3_PATH_STYLE": False, "VATTI_MAX_CONCURRENT_JOBS": 4},
        "serve": {"env": {"VATTI_MAX_BODY_BYTES": 10_000_000, "VATTI_SUBMIT_RATE": 0.5}},
    },
    "every-variable": {
        "database": "postgresql",
        "existingSecret": "vatti-secrets",
        "worker": {"enabled": True},
        "env": every_plain_variable(),
    },
    # refused
    "two-apis-on-sqlite": {"serve": {"replicas": 2}},
    "two-engines-on-a-pod-directory": {
        "database": "postgresql",
        "existingSecret": "s",
        "engine": {"replicas": 2},
    },
    "results-on-a-pod-directory": {
        "database": "postgresql",
        "existingSecret": "s",
        "serve": {"replicas": 2},
        "env": {**S3, "VATTI_RESULTS_STORE_URL": "file:///var/lib/vatti/results"},
    },
    "postgresql-without-secret": {"database": "postgresql"},
    "unknown-database": {"database": "mysql"},
    "replicas-not-a-number": {"engine": {"replicas": "2"}},
    "not-a-variable-name": {"env": {"VATTI_log_level": "DEBUG"}},
    "secret-in-values": {"env": {"VATTI_DATABASE_URL": "postgresql://u:pw@db/vatti"}},
    "unknown-variable": {"env": {"VATTI_NO_SUCH_SETTING": "1"}},
    "not-the-workloads-variable": {"worker": {"env": {"VATTI_AUTH": "none"}}},
    "chart-set-variable": {"env": {"VATTI_PORT": "9000"}},
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    """Every case rendered, linted and validated, in one run of the side environment."""
    try:
        bin_dir = ensure_side_env("helm-chart", REQUIREMENTS, timeout_s=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        missing("helm-python-sdk", f"its side environment could not be built ({exc})")
    request = {
        "chart": str(CHART_DIR),
        "kube_version": KUBE_VERSION,
        "cases": {name: {"values": values, "namespace": "vatti"} for name, values in CASES.items()},
    }
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    done = subprocess.run(
        [str(bin_dir / "python"), str(HERE / "helm_side.py")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["versions"]["helm"].startswith("v4.")
    return result["cases"]  # type: ignore[no-any-return]


def objects(rendered: dict[str, Any], case: str) -> list[dict[str, Any]]:
    found = rendered[case]
    assert found["error"] is None, found["error"]
    return [o["doc"] for o in found["objects"]]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, (
        f"{kind}/{name} in {[(d['kind'], d['metadata']['name']) for d in docs]}"
    )
    return matches[0]


def containers(docs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            pod = doc["spec"]["template"]["spec"]
            for container in pod["containers"]:
                yield pod, container


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


ACCEPTED = [
    "sqlite",
    "sqlite-persistent",
    "production",
    "jobs-namespace",
    "tls",
    "typed-values",
    "every-variable",
]
REFUSED = {
    "two-apis-on-sqlite": "serve.replicas=2, engine.replicas=1: more than one API or engine "
    "replica needs database: postgresql",
    "two-engines-on-a-pod-directory": "needs an s3:// or gs:// store that all pods share: "
    'VATTI_OBJECT_STORE_URL is "a file:// directory in the pod"',
    "results-on-a-pod-directory": 'VATTI_RESULTS_STORE_URL is "file:///var/lib/vatti/results"',
    "postgresql-without-secret": "database: postgresql needs existingSecret",
    "unknown-database": "at '/database': value must be one of 'sqlite', 'postgresql'",
    "replicas-not-a-number": "at '/engine/replicas': got string, want integer",
    "not-a-variable-name": "'VATTI_log_level' does not match pattern",
    "secret-in-values": "env: VATTI_DATABASE_URL is a secret: put it in the Secret named by "
    "existingSecret",
    "unknown-variable": "env: VATTI_NO_SUCH_SETTING is not a variable any workload reads",
    "not-the-workloads-variable": "worker.env: VATTI_AUTH is not a variable the worker workload "
    "reads",
    "chart-set-variable": "env: VATTI_PORT is set by the chart",
}
#: enum values kubernetes-validate does not check, where the chart sets them
ENUMS = {
    "imagePullPolicy": {"Always", "IfNotPresent", "Never"},
    "restartPolicy": {"Always", "OnFailure", "Never"},
    "scheme": {"HTTP", "HTTPS"},
    "pathType": {"Exact", "Prefix", "ImplementationSpecific"},
    "protocol": {"TCP", "UDP", "SCTP"},
    "type": {
        "ClusterIP",
        "NodePort",
        "LoadBalancer",
        "ExternalName",
        "Recreate",
        "RollingUpdate",
        "RuntimeDefault",
        "Localhost",
        "Unconfined",
    },
}


def enum_values(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ENUMS and isinstance(value, str):
                yield key, value
            yield from enum_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from enum_values(item)


def test_every_case_was_run() -> None:
    assert set(ACCEPTED) | set(REFUSED) == set(CASES)


@pytest.mark.parametrize("case", ACCEPTED)
def test_renders_lints_and_validates_strictly(rendered: dict[str, Any], case: str) -> None:
    docs = objects(rendered, case)
    assert docs
    problems = {o["template"]: o["problems"] for o in rendered[case]["objects"] if o["problems"]}
    assert problems == {}
    findings = [f for f in rendered[case]["lint"] if not f.startswith("1: ")]  # 1: info
    assert findings == []
    for doc in docs:
        for key, value in enum_values(doc):
            assert value in ENUMS[key], (doc["kind"], key, value)
    for pod, container in containers(docs):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert container["image"] == "vatti:0.1.0"
        assert container["command"][:3] == ["tini", "--", "vatti"]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refuses(rendered: dict[str, Any], case: str) -> None:
    error = rendered[case]["error"]
    assert error is not None, f"{case} rendered"
    assert REFUSED[case] in error


def test_sqlite_is_one_serve_pod_with_its_engine(rendered: dict[str, Any]) -> None:
    docs = objects(rendered, "sqlite")
    assert sorted(d["kind"] for d in docs) == [
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    serve = one(docs, "Deployment", "demo-vatti-serve")
    assert serve["spec"]["replicas"] == 1
    assert serve["spec"]["strategy"] == {"type": "Recreate"}
    pod = serve["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["tini", "--", "vatti", "serve"]
    assert pod["automountServiceAccountToken"] is False  # the local executor needs no API
    assert {"name": "data", "emptyDir": {}} in pod["volumes"]
    persistent = objects(rendered, "sqlite-persistent")
    claim = one(persistent, "PersistentVolumeClaim", "demo-vatti-data")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    volumes = one(persistent, "Deployment", "demo-vatti-serve")["spec"]["template"]["spec"][
        "volumes"
    ]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "demo-vatti-data"}} in volumes


def test_serve_probes_health_and_readiness(rendered: dict[str, Any]) -> None:
    for case, scheme in (("sqlite", "HTTP"), ("tls", "HTTPS")):
        serve = one(objects(rendered, case), "Deployment", "demo-vatti-serve")
        container = serve["spec"]["template"]["spec"]["containers"][0]
        assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
        assert container["livenessProbe"]["httpGet"] == {
            "path": "/healthz",
            "port": "http",
            "scheme": scheme,
        }
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"] == {
            "path": "/readyz",
            "port": "http",
            "scheme": scheme,
        }
        env = env_of(container)
        assert (env["VATTI_HOST"], env["VATTI_PORT"]) == ("0.0.0.0", "8000")


def test_production_topology(rendered: dict[str, Any]) -> None:
    docs = objects(rendered, "production")
    serve = one(docs, "Deployment", "demo-vatti-serve")
    assert serve["spec"]["replicas"] == 3
    assert "strategy" not in serve["spec"]  # rolling: API replicas come and go
    command = serve["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command == ["tini", "--", "vatti", "serve", "--no-engine"]
    engine = one(docs, "Deployment", "demo-vatti-engine")
    assert engine["spec"]["replicas"] == 2
    assert engine["spec"]["template"]["spec"]["containers"][0]["command"][2:] == ["vatti", "engine"]
    worker = one(docs, "Deployment", "demo-vatti-worker")
    assert worker["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    service = one(docs, "Service", "demo-vatti")
    assert service["spec"]["selector"] == serve["spec"]["selector"]["matchLabels"]
    ingress = one(docs, "Ingress", "demo-vatti")
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["backend"] == {"service": {"name": "demo-vatti", "port": {"name": "http"}}}
    assert path["pathType"] == "Prefix"
    budgets = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "PodDisruptionBudget"}
    assert budgets == {
        "demo-vatti-serve": {"maxUnavailable": 1, "selector": serve["spec"]["selector"]},
        "demo-vatti-engine": {"maxUnavailable": 1, "selector": engine["spec"]["selector"]},
    }


def test_the_migration_hook_runs_before_the_release(rendered: dict[str, Any]) -> None:
    job = one(objects(rendered, "production"), "Job", "demo-vatti-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert "serviceAccountName" not in pod  # hooks run before the release's account exists
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    assert container["command"] == ["tini", "--", "vatti", "db", "upgrade"]
    env = env_of(container)
    assert env["VATTI_DATABASE_URL"] == {
        "secretKeyRef": {"name": "vatti-secrets", "key": "VATTI_DATABASE_URL", "optional": True}
    }
    assert "VATTI_EXECUTOR" not in env  # only what `vatti db upgrade` (admin) reads
    for case in ("sqlite", "sqlite-persistent"):
        assert not [d for d in objects(rendered, case) if d["kind"] == "Job"]


def test_the_executor_role_is_only_what_it_needs(rendered: dict[str, Any]) -> None:
    docs = objects(rendered, "production")
    role = one(docs, "Role", "demo-vatti-executor")
    from vatti.executors.kubernetes_api import PERMISSIONS

    rules = {
        (group, resource): frozenset(r["verbs"])
        for r in role["rules"]
        for group in r["apiGroups"]
        for resource in r["resources"]
    }
    assert rules == PERMISSIONS  # what the executor's API port calls, and nothing more
    assert "*" not in json.dumps(role)
    binding = one(docs, "RoleBinding", "demo-vatti-executor")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "demo-vatti-executor",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "demo-vatti", "namespace": "vatti"}
    ]
    for name in ("demo-vatti-serve", "demo-vatti-engine"):
        pod = one(docs, "Deployment", name)["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "demo-vatti"
        assert pod["automountServiceAccountToken"] is True
    job_account = one(docs, "ServiceAccount", "demo-vatti-job")
    assert job_account["automountServiceAccountToken"] is False
    assert not [d for d in objects(rendered, "sqlite") if d["kind"] in ("Role", "RoleBinding")]


def test_jobs_may_run_in_their_own_namespace(rendered: dict[str, Any]) -> None:
    docs = objects(rendered, "jobs-namespace")
    assert one(docs, "Role", "demo-vatti-executor")["metadata"]["namespace"] == "vatti-jobs"
    binding = one(docs, "RoleBinding", "demo-vatti-executor")
    assert binding["metadata"]["namespace"] == "vatti-jobs"
    assert binding["subjects"][0]["namespace"] == "vatti"
    assert one(docs, "ServiceAccount", "demo-vatti-job")["metadata"]["namespace"] == "vatti-jobs"
    serve = one(docs, "Deployment", "demo-vatti-serve")["spec"]["template"]["spec"]
    assert serve["automountServiceAccountToken"] is True


def test_workload_env_wins_over_the_chart_wide_env(rendered: dict[str, Any]) -> None:
    docs = objects(rendered, "production")
    levels = {
        name: env_of(
            one(docs, "Deployment", f"demo-vatti-{name}")["spec"]["template"]["spec"]["containers"][
                0
            ]
        ).get("VATTI_LOG_LEVEL")
        for name in ("serve", "engine")
    }
    assert levels == {"serve": "DEBUG", "engine": None}


def test_every_variable_of_each_workload_is_settable(rendered: dict[str, Any]) -> None:
    """Cross-checked with vatti's configuration contract (vatti.config.COMPONENTS): each
    workload's container gets exactly the variables its components read, plain ones from
    values, secret ones from existingSecret."""
    docs = objects(rendered, "every-variable")
    names = {
        "serve": "demo-vatti-serve",
        "engine": "demo-vatti-engine",
        "worker": "demo-vatti-worker",
        "migrate": "demo-vatti-migrate",
    }
    for workload in WORKLOADS:
        kind = "Job" if workload.name == "migrate" else "Deployment"
        container = one(docs, kind, names[workload.name])["spec"]["template"]["spec"]["containers"][
            0
        ]
        env = env_of(container)
        expected = {v.name for v in workload_variables(workload)}
        assert set(env) == expected | {"VATTI_DATA_DIR"}, workload.name
        for var in workload_variables(workload):
            if var.name in CHART_SET:
                continue
            if var.secret:
                assert env[var.name] == {
                    "secretKeyRef": {"name": "vatti-secrets", "key": var.name, "optional": True}
                }
            else:
                assert env[var.name] == f"value-of-{var.name}"


def test_numbers_and_booleans_reach_vatti_as_it_reads_them(
    rendered: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Helm reads 10000000 as a float (1e+07 as text): the chart writes whole numbers as such,
    and the serve pod's environment is valid settings for the components it runs."""
    for name in list(os.environ):
        if name.upper().startswith("VATTI_"):
            monkeypatch.delenv(name)
    serve = one(objects(rendered, "typed-values"), "Deployment", "demo-vatti-serve")
    env = env_of(serve["spec"]["template"]["spec"]["containers"][0])
    assert env["VATTI_MAX_BODY_BYTES"] == "10000000"
    plain = {k: v for k, v in env.items() if isinstance(v, str)}
    serve_workload = next(w for w in WORKLOADS if w.name == "serve")
    settings = Settings.for_components(*serve_workload.components, overlay=plain)
    assert settings.api is not None
    assert settings.engine is not None
    assert (settings.api.max_body_bytes, settings.api.submit_rate) == (10_000_000, 0.5)
    assert settings.store.s3_path_style is False
    assert settings.engine.max_concurrent_jobs == 4
    assert (settings.api.host, settings.api.port) == ("0.0.0.0", 8000)
