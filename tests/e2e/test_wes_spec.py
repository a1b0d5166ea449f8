"""The WES facade keeps the GA4GH contract: schemathesis (``--checks all``) against the WES 1.1
spec, on a live ``vatti serve`` (the engine running, SQLite, token auth).

It runs against the shared spec (``../shared/specs/workflow_execution_service.openapi.yaml``,
the contract backends are written against), not against a schema the server serves. Where the
spec itself makes a check impossible, the spec is patched here or the check told in
``wes-schemathesis.toml``, and each place says why:

1. ``ServiceInfo`` is an ``allOf`` whose first member is a ``$ref`` to a file on another host
   (GA4GH service-info v1.0.0's ``Service``): the test sends nothing off the machine, so that
   reference is replaced by :data:`SERVICE`, the same model written out (its required ``id``,
   ``name``, ``type`` {``group``, ``artifact``, ``version``}, ``organization`` {``name``,
   ``url``} and ``version``).
2. ``RunWorkflow``'s form requires no field, while ``RunRequest`` (what the form carries)
   requires ``workflow_type``, ``workflow_type_version`` and ``workflow_url``: the test makes
   the form require those three, as ``RunRequest`` does. The form also types every field a
   plain string, while the spec's text wants JSON objects in ``workflow_params``, ``tags`` and
   ``workflow_engine_parameters`` (and vatti refuses ``workflow_attachment`` and fields the
   spec does not name): a request valid by the schema can be one the spec's own text refuses,
   so 400 is an expected answer to schema-valid data there (``positive_data_acceptance``).
3. ``ListTasks`` documents no 400, yet its ``page_size`` (int64) and ``page_token`` (an
   opaque string the server issued) can be wrong. vatti looks the run up first (an unknown run
   is 404, as documented), then answers a bad ``page_size`` or a ``page_token`` it never
   issued with 404 naming the parameter (the page asked for does not exist): the one
   documented status that fits, where 400 would be the usual answer.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.conftest import Launcher, Server

from vatti.testing.schemathesis import run_schemathesis
from vatti.testing.services import missing

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
CONFIG = HERE / "wes-schemathesis.toml"
WES = "/ga4gh/wes/v1"
SERVICE_INFO_REF = (
    "https://raw.githubusercontent.com/ga4gh-discovery/ga4gh-service-info/v1.0.0/"
    "service-info.yaml#/components/schemas/Service"
)
MAX_EXAMPLES = 25
SEED = 11
PHASES = "examples,coverage,fuzzing,stateful"
RUN_TIMEOUT_S = 170

_STRING = {"type": "string"}
#: GA4GH service-info v1.0.0's ``Service``, written out (defect 1 of the module's docstring)
SERVICE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "type", "organization", "version"],
    "properties": {
        "id": _STRING,
        "name": _STRING,
        "type": {
            "type": "object",
            "required": ["group", "artifact", "version"],
            "properties": {"group": _STRING, "artifact": _STRING, "version": _STRING},
        },
        "description": _STRING,
        "organization": {
            "type": "object",
            "required": ["name", "url"],
            "properties": {"name": _STRING, "url": {"type": "string", "format": "uri"}},
        },
        "contactUrl": {"type": "string", "format": "uri"},
        "documentationUrl": {"type": "string", "format": "uri"},
        "createdAt": {"type": "string", "format": "date-time"},
        "updatedAt": {"type": "string", "format": "date-time"},
        "environment": _STRING,
        "version": _STRING,
    },
}


#: a form of a run that runs (the spec has no examples; this one adds no constraint)
EXAMPLE_FORM = {
    "workflow_type": "command",
    "workflow_type_version": "1",
    "workflow_url": "command",
    "workflow_params": json.dumps({"command": "hello", "args": {"name": "example"}}),
    "tags": json.dumps({"project": "wes-spec"}),
}


def shared_spec() -> Path:
    """The shared WES spec beside the repository (``$VATTI_SHARED_DATA/../specs`` if set)."""
    data = os.environ.get("VATTI_SHARED_DATA")
    base = Path(data) / ".." if data else HERE.parents[1] / ".." / "shared"
    path = (base / "specs" / "workflow_execution_service.openapi.yaml").resolve()
    if not path.is_file():
        missing(f"the GA4GH WES spec at {path}", "set VATTI_SHARED_DATA to the shared data dir")
    return path


def local_spec(source: Path, out: Path) -> Path:
    """The spec with its one reference to another host replaced (defect 1), and the fields
    ``RunRequest`` requires required in the form that carries it (defect 2)."""
    spec = yaml.safe_load(source.read_text())
    schemas = spec["components"]["schemas"]
    form = spec["paths"]["/runs"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "required" not in form["schema"], "the spec changed: revisit this test"
    form["schema"]["required"] = schemas["RunRequest"]["required"]
    form["example"] = EXAMPLE_FORM  # for the examples phase: a run that is valid and runs
    members = schemas["ServiceInfo"]["allOf"]
    assert members[0] == {"$ref": SERVICE_INFO_REF}, "the spec changed: revisit this test"
    members[0] = {"$ref": "#/components/schemas/Service"}
    schemas["Service"] = SERVICE
    assert SERVICE_INFO_REF.split("#")[0] not in json.dumps(spec)
    out.write_text(json.dumps(spec))
    return out


def made_run(server: Server, params: dict[str, Any] | None = None) -> str:
    """A run posted through WES (a declared command; ``noop`` by default)."""
    form = {**EXAMPLE_FORM, "workflow_params": json.dumps(params or {"command": "noop"})}
    resp = server.http.post(f"{WES}/runs", files={k: (None, v) for k, v in form.items()})
    assert resp.status_code == 200, resp.text
    run_id: str = resp.json()["run_id"]
    return run_id


def test_schemathesis_finds_no_failure_against_the_ga4gh_spec(
    launcher: Launcher, tmp_path: Path
) -> None:
    spec = local_spec(shared_spec(), tmp_path / "wes.json")
    server = launcher.start(tmp_path / "data")
    runs = [made_run(server, {"command": "hello", "args": {"name": "spec"}}), made_run(server)]
    server.wait_state(runs[0])
    config = tmp_path / CONFIG.name
    version = server.http.get(f"{WES}/service-info").json()["workflow_engine_versions"]["vatti"]
    found = {"runs": runs, "engine_versions": version["workflow_engine_version"]}
    dictionaries = "".join(
        f"\n[dictionaries.{name}]\nvalues = {json.dumps(values)}\n"
        for name, values in found.items()
    )
    config.write_text(CONFIG.read_text() + dictionaries)
    summary = run_schemathesis(
        str(spec),
        config=config,
        token=server.token,
        cwd=tmp_path,
        max_examples=MAX_EXAMPLES,
        seed=SEED,
        phases=PHASES,
        extra=[
            "--url",
            f"{server.url}{WES}",
            "--report",
            "har",  # every request and answer, for a failure's post-mortem
            "--report-dir",
            str(tmp_path / "report"),
        ],
        timeout_s=RUN_TIMEOUT_S,
    )
    assert re.search(r"Tested: 8\b", summary), summary  # every operation of the spec
