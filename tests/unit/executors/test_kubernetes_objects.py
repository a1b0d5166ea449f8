"""The Job and Secret of one attempt: valid Kubernetes objects (strictly), locked down, and the
launch's secrets in the Secret alone."""

from __future__ import annotations

import base64
import json

import pytest

from vatti.executors.base import Launch, Limits
from vatti.executors.kubernetes_objects import (
    ATTEMPT_LABEL,
    DATA_MOUNT,
    JOB_ID_LABEL,
    MANAGED_BY_LABEL,
    SECRETS_KEY,
    PodOptions,
    job_manifest,
    job_name,
    secret_manifest,
)
from vatti.testing.kube_objects import assert_valid

pytestmark = pytest.mark.unit

JOB_ID = "0193d1b2-7f00-7000-8000-000000000001"
SECRET = "s3cret-value-never-in-the-job"
OPTIONS = PodOptions(
    image="registry.test/vatti:1.0",
    namespace="jobs",
    service_account="vatti-jobs",
    node_selector={"kubernetes.io/arch": "amd64"},
    tolerations=[{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}],
    image_pull_secrets=["regcred"],
    ttl_after_finished_s=600,
    cpus=0.5,
)


def launch(**kwargs: object) -> Launch:
    base: dict[str, object] = {
        "job_id": JOB_ID,
        "attempt": 2,
        "limits": Limits(memory_mb=512, wall_time_s=3600),
        "env": {"VATTI_OBJECT_STORE_URL": "s3://bucket/vatti"},
        "secrets": {"VATTI_S3_SECRET_ACCESS_KEY": SECRET},
    }
    base.update(kwargs)
    return Launch(**base)  # type: ignore[arg-type]


def created_job() -> dict[str, object]:
    job = job_manifest(launch(), OPTIONS)
    job["metadata"]["uid"] = "5f0c1f0e-0000-4000-8000-00000000abcd"
    return job


def test_the_job_is_a_valid_locked_down_batch_job() -> None:
    job = job_manifest(launch(), OPTIONS)
    assert_valid(job)
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"]) == (0, 600)
    assert spec["activeDeadlineSeconds"] == 3600 + 30  # vatti's wall time plus the margin
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": f"{512 + 64}Mi"}
    assert container["resources"]["requests"] == container["resources"]["limits"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["VATTI_SCRATCH_DIR"].startswith(DATA_MOUNT)  # the writable emptyDir
    assert env["TMPDIR"].startswith(DATA_MOUNT)
    assert (pod["serviceAccountName"], pod["imagePullSecrets"]) == (
        "vatti-jobs",
        [{"name": "regcred"}],
    )
    assert pod["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    assert pod["tolerations"] == [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}]


def test_every_object_is_labelled_with_vatti_and_the_job() -> None:
    job = job_manifest(launch(), OPTIONS)
    secret = secret_manifest(launch(), OPTIONS, created_job())
    for tags in (
        job["metadata"]["labels"],
        job["spec"]["template"]["metadata"]["labels"],
        secret["metadata"]["labels"],
    ):
        assert tags[MANAGED_BY_LABEL] == "vatti"
        assert (tags[JOB_ID_LABEL], tags[ATTEMPT_LABEL]) == (JOB_ID, "2")
    assert job["metadata"]["name"] == job_name(JOB_ID, 2) == f"vatti-{JOB_ID}-a2"


def test_the_secrets_are_in_the_secret_owned_by_the_job_and_nowhere_in_the_job() -> None:
    job = job_manifest(launch(), OPTIONS)
    assert SECRET not in json.dumps(job)
    secret = secret_manifest(launch(), OPTIONS, created_job())
    assert_valid(secret)
    assert secret["immutable"] is True
    (owner,) = secret["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": job["metadata"]["name"],
        "uid": "5f0c1f0e-0000-4000-8000-00000000abcd",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    body = json.loads(base64.b64decode(secret["data"][SECRETS_KEY]))
    assert body == {
        "job_id": JOB_ID,
        "attempt": 2,
        "secrets": {"VATTI_S3_SECRET_ACCESS_KEY": SECRET},
    }
    mounted = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}["secrets"]
    assert mounted["secret"]["secretName"] == secret["metadata"]["name"]


def test_no_wall_time_no_deadline_and_no_memory_limit_no_memory() -> None:
    job = job_manifest(launch(limits=Limits()), PodOptions(image="i"))
    assert_valid(job)
    assert "activeDeadlineSeconds" not in job["spec"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"cpu": "1"}


def test_the_enum_check_catches_what_the_schema_does_not() -> None:
    job = job_manifest(launch(), OPTIONS)
    job["spec"]["template"]["spec"]["restartPolicy"] = "Sometimes"
    with pytest.raises(AssertionError, match="restartPolicy"):
        assert_valid(job)
    job = job_manifest(launch(), OPTIONS)
    job["spec"]["template"]["spec"]["containers"][0]["unknownField"] = 1
    with pytest.raises(AssertionError, match="not a valid object"):
        assert_valid(job)
