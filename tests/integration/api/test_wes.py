"""GA4GH WES 1.1 under /ga4gh/wes/v1: runs are jobs, with the jobs API's tokens, tenants, scopes.

The real app over a real SQL store; runs are driven through their states by the store, as the
engine would. (schemathesis against the GA4GH spec on a live server: tests/e2e/test_wes_spec.py)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.api.conftest import Api, auth, build_api

from vatti.domain.failure import Failure
from vatti.domain.states import JobEvent
from vatti.domain.times import utcnow
from vatti.store.base import Changes

pytestmark = pytest.mark.integration

WES = "/ga4gh/wes/v1"


def hello_form(name: str = "Ada", **extra: str) -> dict[str, str]:
    return {
        "workflow_type": "command",
        "workflow_type_version": "1",
        "workflow_url": "command",
        "workflow_params": json.dumps({"command": "hello", "args": {"name": name}}),
        **extra,
    }


async def post_run(
    client: httpx.AsyncClient, form: dict[str, str], who: str = "lab-a"
) -> httpx.Response:
    """POST the form as multipart/form-data, as the spec says (each field a part)."""
    parts = {k: (None, v) for k, v in form.items()}
    return await client.post(f"{WES}/runs", files=parts, headers=auth(who))


async def run_id(client: httpx.AsyncClient, form: dict[str, str], who: str = "lab-a") -> str:
    resp = await post_run(client, form, who)
    assert resp.status_code == 200, resp.text
    rid: str = resp.json()["run_id"]
    return rid


def assert_wes_error(resp: httpx.Response, status: int, text: str = "") -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert set(body) == {"msg", "status_code"}
    assert body["status_code"] == status
    assert text in body["msg"]
    return body


async def test_service_info_names_the_pipelines_and_the_engine(
    api: Api, client: httpx.AsyncClient
) -> None:
    await run_id(client, hello_form())
    resp = await client.get(f"{WES}/service-info", headers=auth("reader"))
    assert resp.status_code == 200, resp.text
    info = resp.json()
    assert info["workflow_type_versions"] == {
        "command": {"workflow_type_version": ["1"]},
        "pgs": {"workflow_type_version": ["1"]},
    }
    assert info["supported_wes_versions"] == ["1.1.0"]
    assert list(info["workflow_engine_versions"]) == ["vatti"]
    assert {p["name"] for p in info["default_workflow_engine_parameters"]} == {
        "memory_mb",
        "wall_time_s",
        "client_id",
    }
    assert info["system_state_counts"] == {
        "QUEUED": 1,
        "INITIALIZING": 0,
        "RUNNING": 0,
        "CANCELING": 0,
    }
    assert info["auth_instructions_url"] == f"http://api.test{WES}/auth-instructions"
    howto = await client.get(info["auth_instructions_url"])
    assert "vatti token create" in howto.text


async def test_service_info_names_the_operators_organization(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    configured = build_api(
        sqlite_database_url,
        tmp_path,
        wes_organization="Example Genomics",
        wes_organization_url="https://genomics.example.org",
        wes_auth_instructions_url="https://genomics.example.org/tokens",
    )
    try:
        async with configured.client() as client:
            resp = await client.get(f"{WES}/service-info", headers=auth("reader"))
        info = resp.json()
        assert info["organization"] == {
            "name": "Example Genomics",
            "url": "https://genomics.example.org",
        }
        assert info["auth_instructions_url"] == "https://genomics.example.org/tokens"
    finally:
        configured.store.close()


async def test_a_run_is_a_job_of_the_callers_tenant(api: Api, client: httpx.AsyncClient) -> None:
    form = hello_form(
        tags=json.dumps({"project": "p1"}),
        workflow_engine_parameters=json.dumps({"memory_mb": "256", "client_id": "INTP0042"}),
    )
    rid = await run_id(client, form)

    job = (await client.get(f"/api/v1/jobs/{rid}", headers=auth("lab-a"))).json()
    assert (job["pipeline"], job["tenant"], job["client_id"]) == ("command", "lab-a", "INTP0042")
    assert job["labels"] == {"project": "p1"}
    stored = api.store.get(rid)
    assert stored.spec["params"] == {"command": "hello", "args": {"name": "Ada"}}
    assert stored.spec["resources"]["memory_mb"] == 256

    log = (await client.get(f"{WES}/runs/{rid}", headers=auth("lab-a"))).json()
    assert log["state"] == "QUEUED"
    assert log["request"]["workflow_params"] == {"command": "hello", "args": {"name": "Ada"}}
    assert log["request"]["tags"] == {"project": "p1"}
    assert log["request"]["workflow_engine_parameters"]["client_id"] == "INTP0042"
    assert log["task_logs_url"] == f"{WES}/runs/{rid}/tasks"
    assert log["outputs"] == {}
    assert "start_time" not in log["run_log"]  # not null: the spec's strings are not nullable
    status = (await client.get(f"{WES}/runs/{rid}/status", headers=auth("lab-a"))).json()
    assert status == {"run_id": rid, "state": "QUEUED"}


async def test_another_tenants_run_is_not_found(client: httpx.AsyncClient) -> None:
    rid = await run_id(client, hello_form())
    for path in ("", "/status", "/tasks", "/tasks/1"):
        assert_wes_error(await client.get(f"{WES}/runs/{rid}{path}", headers=auth("lab-b")), 404)
    assert_wes_error(await client.post(f"{WES}/runs/{rid}/cancel", headers=auth("lab-b")), 404)
    runs = (await client.get(f"{WES}/runs", headers=auth("lab-b"))).json()["runs"]
    assert rid not in {r["run_id"] for r in runs}
    admin = (await client.get(f"{WES}/runs", headers=auth("admin"))).json()["runs"]
    assert rid in {r["run_id"] for r in admin}


async def test_scopes_are_the_jobs_apis(client: httpx.AsyncClient) -> None:
    assert_wes_error(await client.get(f"{WES}/runs"), 401, "bearer token")
    assert_wes_error(await post_run(client, hello_form(), who="reader"), 403, "'submit' scope")
    # submit:command:hello
    await run_id(client, hello_form(), who="hello-only")
    noop = {**hello_form(), "workflow_params": json.dumps({"command": "noop"})}
    assert_wes_error(await post_run(client, noop, who="hello-only"), 403, "command 'noop'")
    # submit:pgs may post pgs runs only
    assert_wes_error(await post_run(client, hello_form(), who="pgs-only"), 403, "'command'")
    pgs = {"workflow_type": "pgs", "workflow_type_version": "1", "workflow_url": "pgs"}
    refused = assert_wes_error(await post_run(client, pgs, who="pgs-only"), 400)
    assert "params." in refused["msg"]  # past the scope check: the pgs params are checked


async def test_cancel_needs_a_scope_that_covers_the_run(client: httpx.AsyncClient) -> None:
    rid = await run_id(client, {**hello_form(), "workflow_params": '{"command": "noop"}'})
    for who in ("pgs-only", "hello-only", "reader"):  # same tenant, scopes that could not post it
        assert_wes_error(await client.post(f"{WES}/runs/{rid}/cancel", headers=auth(who)), 403)
    assert await state_of(client, rid) == "QUEUED"
    await client.post(f"{WES}/runs/{rid}/cancel", headers=auth("lab-a"))
    assert await state_of(client, rid) == "CANCELED"


async def test_runs_over_a_tokens_rate_get_429_with_retry_after(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    limited = build_api(sqlite_database_url, tmp_path, submit_rate_per_min=1, submit_burst=2)
    try:
        async with limited.client() as client:
            for n in range(2):  # the burst
                await run_id(client, hello_form(str(n)))
            resp = await post_run(client, hello_form("2"))
            assert_wes_error(resp, 429, "too many submissions")
            assert int(resp.headers["retry-after"]) >= 1
    finally:
        limited.store.close()


async def test_refused_requests_are_400_naming_the_field(client: httpx.AsyncClient) -> None:
    bad = {**hello_form(), "workflow_type": "cwl", "workflow_url": "main.cwl"}
    assert_wes_error(await post_run(client, bad), 400, "workflow_type: unknown pipeline 'cwl'")
    bad_args = hello_form(name="x" * 10_000)
    assert_wes_error(await post_run(client, bad_args), 400, "params.args.name")
    broken = await client.post(
        f"{WES}/runs",
        content=b"--b\r\nno headers here",
        headers={**auth("lab-a"), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_wes_error(broken, 400, "body: is not a readable form")
    many = await client.post(
        f"{WES}/runs", files=[("tags", (None, "{}"))] * 40, headers=auth("lab-a")
    )
    assert_wes_error(many, 400, "Too many fields")
    json_body = await client.post(f"{WES}/runs", json=hello_form(), headers=auth("lab-a"))
    assert_wes_error(json_body, 400, "multipart/form-data")
    attached = await client.post(
        f"{WES}/runs",
        data=hello_form(),
        files={"workflow_attachment": ("main.cwl", b"cwlVersion: v1.2")},
        headers=auth("lab-a"),
    )
    assert_wes_error(attached, 400, "takes no workflow files")


async def test_a_known_client_id_names_its_run(client: httpx.AsyncClient) -> None:
    form = hello_form(workflow_engine_parameters=json.dumps({"client_id": "INTP0007"}))
    rid = await run_id(client, form)
    again = await post_run(
        client, hello_form("Bob", **{k: form[k] for k in ("workflow_engine_parameters",)})
    )
    assert_wes_error(again, 400, f"run {rid}")
    # an identical request (no client id) within the dedup window is the same run
    assert await run_id(client, hello_form("Cy")) == await run_id(client, hello_form("Cy"))


async def test_paging_through_runs(api_any_db: Api) -> None:
    async with api_any_db.client() as client:
        await page_through_runs(client)


async def page_through_runs(client: httpx.AsyncClient) -> None:
    made = {await run_id(client, hello_form(f"n{i}"), who="lab-b") for i in range(5)}
    seen: list[str] = []
    token = ""
    while True:
        params: dict[str, Any] = {"page_size": 2, **({"page_token": token} if token else {})}
        page = (await client.get(f"{WES}/runs", params=params, headers=auth("lab-b"))).json()
        assert len(page["runs"]) <= 2
        seen += [r["run_id"] for r in page["runs"]]
        token = page["next_page_token"]
        if not token:
            break
    assert sorted(seen) == sorted(made)
    bad = await client.get(f"{WES}/runs", params={"page_token": "nope"}, headers=auth("lab-b"))
    assert_wes_error(bad, 400, "page_token")
    assert_wes_error(
        await client.get(f"{WES}/runs", params={"page_size": "two"}, headers=auth("lab-b")), 400
    )
    whole = await client.get(f"{WES}/runs", params={"page_size": 0}, headers=auth("lab-b"))
    assert len(whole.json()["runs"]) == 5  # no size asked for: the default page


async def test_cancel_and_the_state_mapping(api: Api, client: httpx.AsyncClient) -> None:
    queued = await run_id(client, hello_form("q"))
    resp = await client.post(f"{WES}/runs/{queued}/cancel", headers=auth("lab-a"))
    assert resp.json() == {"run_id": queued}
    status = await client.get(f"{WES}/runs/{queued}/status", headers=auth("lab-a"))
    assert status.json()["state"] == "CANCELED"
    again = await client.post(f"{WES}/runs/{queued}/cancel", headers=auth("lab-a"))
    assert again.status_code == 200  # it ended: nothing changes

    running = await run_id(client, hello_form("r"))
    advance(api, running, JobEvent.ADMIT, JobEvent.START)
    assert await state_of(client, running) == "RUNNING"
    await client.post(f"{WES}/runs/{running}/cancel", headers=auth("lab-a"))
    assert await state_of(client, running) == "CANCELING"

    failing = await run_id(client, hello_form("f"))
    advance(api, failing, JobEvent.ADMIT)
    assert await state_of(client, failing) == "INITIALIZING"
    advance(api, failing, JobEvent.START)
    failure = Failure("pipeline_failed", "exit 3", step="command", exit_code=3)
    api.store.transition(failing, JobEvent.FAIL, now=utcnow(), changes=Changes(failure=failure))
    assert await state_of(client, failing) == "EXECUTOR_ERROR"
    log = (await client.get(f"{WES}/runs/{failing}", headers=auth("lab-a"))).json()
    assert log["run_log"]["exit_code"] == 3
    assert log["run_log"]["system_logs"] == ["pipeline_failed: exit 3 (step command)"]

    lost = await run_id(client, hello_form("v"))
    advance(api, lost, JobEvent.ADMIT)
    vanished = Failure("vanished", "the job's process is gone")
    api.store.transition(lost, JobEvent.FAIL, now=utcnow(), changes=Changes(failure=vanished))
    assert await state_of(client, lost) == "SYSTEM_ERROR"


async def test_tasks_are_the_attempts(api: Api, client: httpx.AsyncClient) -> None:
    rid = await run_id(client, hello_form("t"))
    tasks_url = f"{WES}/runs/{rid}/tasks"
    assert (await client.get(tasks_url, headers=auth("lab-a"))).json() == {
        "task_logs": [],
        "next_page_token": "",
    }
    advance(api, rid, JobEvent.ADMIT, JobEvent.START)
    failure = Failure("pipeline_failed", "exit 2", step="command", exit_code=2)
    api.store.transition(rid, JobEvent.FAIL, now=utcnow(), changes=Changes(failure=failure))
    await client.post(f"/api/v1/jobs/{rid}/retry", headers=auth("lab-a"))
    advance(api, rid, JobEvent.ADMIT, JobEvent.START, JobEvent.SUCCEED)
    api.outputs.add(rid, {"hello.txt": b"Hello, t!\n"})

    first = (await client.get(tasks_url, params={"page_size": 1}, headers=auth("lab-a"))).json()
    assert [t["id"] for t in first["task_logs"]] == ["1"]
    assert first["task_logs"][0]["exit_code"] == 2
    assert {"start_time", "end_time"} <= set(first["task_logs"][0])
    rest = await client.get(
        tasks_url, params={"page_token": first["next_page_token"]}, headers=auth("lab-a")
    )
    second = rest.json()["task_logs"]
    assert [t["id"] for t in second] == ["2"]
    assert "exit_code" not in second[0]
    assert second[0]["stdout"] == f"/api/v1/jobs/{rid}/logs"
    one = (await client.get(f"{tasks_url}/2", headers=auth("lab-a"))).json()
    assert one == second[0]
    assert_wes_error(await client.get(f"{tasks_url}/3", headers=auth("lab-a")), 404)
    for bad in ({"page_token": "nope"}, {"page_token": "-1"}, {"page_size": "two"}):
        resp = await client.get(tasks_url, params=bad, headers=auth("lab-a"))
        assert_wes_error(resp, 404, f"no such page of the run's tasks ({next(iter(bad))}")

    log = (await client.get(f"{WES}/runs/{rid}", headers=auth("lab-a"))).json()
    assert log["state"] == "COMPLETE"
    assert log["outputs"] == {"hello.txt": f"/api/v1/jobs/{rid}/outputs/hello.txt"}
    download = await client.get(log["outputs"]["hello.txt"], headers=auth("lab-a"))
    assert download.content == b"Hello, t!\n"


async def test_every_error_under_the_prefix_is_an_error_response(
    client: httpx.AsyncClient,
) -> None:
    assert_wes_error(await client.get(f"{WES}/nowhere", headers=auth("lab-a")), 404)
    deleted = await client.delete(f"{WES}/runs", headers=auth("lab-a"))
    assert_wes_error(deleted, 405)
    assert deleted.headers["allow"] == "GET, POST"
    unknown = await client.get(f"{WES}/runs/no-such-run", headers=auth("lab-a"))
    assert_wes_error(unknown, 404)
    assert unknown.headers["x-content-type-options"] == "nosniff"  # the API's middleware too


def advance(api: Api, job_id: str, *events: JobEvent) -> None:
    for event in events:
        api.store.transition(job_id, event, now=utcnow())


async def state_of(client: httpx.AsyncClient, rid: str) -> str:
    resp = await client.get(f"{WES}/runs/{rid}/status", headers=auth("lab-a"))
    state: str = resp.json()["state"]
    return state
