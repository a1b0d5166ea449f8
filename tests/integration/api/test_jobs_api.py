"""The jobs API in-process (httpx over ASGI) on a real SQLite store."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from tests.integration.api.conftest import Api, auth, build_api, command_body

from vatti.pipelines.base import default_registry
from vatti.store.migrate import downgrade
from vatti.testing.messages import hattivatti_message

pytestmark = pytest.mark.integration

JOBS = "/api/v1/jobs"


async def submit(
    client: httpx.AsyncClient, name: str | None = None, **extra: object
) -> dict[str, object]:
    resp = await client.post(JOBS, json=command_body(name, **extra), headers=auth("submitter"))
    assert resp.status_code == 201, resp.text
    body: dict[str, object] = resp.json()
    return body


async def test_submit_then_read_back(api: Api, client: httpx.AsyncClient) -> None:
    job = await submit(client, "hi", labels={"cohort": "a1"}, client_id="c-1")

    assert job["state"] == "queued"
    assert job["pipeline"] == "command"
    assert job["client_id"] == "c-1"
    assert job["labels"] == {"cohort": "a1"}
    assert job["failure"] is None
    assert job["links"] == {
        "self": f"{JOBS}/{job['id']}",
        "events": f"{JOBS}/{job['id']}/events",
        "logs": f"{JOBS}/{job['id']}/logs",
        "outputs": f"{JOBS}/{job['id']}/outputs",
    }
    datetime.fromisoformat(str(job["created_at"]))
    got = await client.get(f"{JOBS}/{job['id']}", headers=auth("reader"))
    assert got.status_code == 200
    assert got.json() == job
    assert api.job_count() == 1


async def test_created_job_has_a_location(client: httpx.AsyncClient) -> None:
    resp = await client.post(JOBS, json=command_body(), headers=auth("submitter"))
    assert resp.status_code == 201
    location = resp.headers["location"]
    assert location == resp.json()["links"]["self"]
    assert (await client.get(location, headers=auth("reader"))).json() == resp.json()


async def test_webhook_url_is_returned_as_its_origin(client: httpx.AsyncClient) -> None:
    job = await submit(client, webhook_url="https://hooks.example.org/h/tok-1?token=s3cret")
    assert job["webhook_url"] == "https://hooks.example.org"
    got = await client.get(f"{JOBS}/{job['id']}", headers=auth("reader"))
    assert "s3cret" not in got.text


async def test_webhook_url_with_credentials_is_refused(api: Api, client: httpx.AsyncClient) -> None:
    body = command_body(webhook_url="https://user:pw@hooks.example.org/h/1")
    resp = await client.post(JOBS, json=body, headers=auth("submitter"))

    assert resp.status_code == 422
    (detail,) = resp.json()["error"]["details"]
    assert detail["field"] == "webhook_url"
    assert "credentials" in detail["message"]
    assert "pw" not in resp.text
    assert api.job_count() == 0


async def test_invalid_params_name_each_field(api: Api, client: httpx.AsyncClient) -> None:
    args = {"name": "Ada; rm -rf /", "colour": "red"}
    body = {"pipeline": "command", "params": {"command": "hello", "args": args}}
    resp = await client.post(JOBS, json=body, headers=auth("submitter"))

    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "invalid_request"
    details = {d["field"]: d["message"] for d in error["details"]}
    assert set(details) == {"params.args.name", "params.args.colour"}
    assert "must match the pattern" in details["params.args.name"]
    assert api.job_count() == 0


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        (
            {"command": "rm"},
            "params.command",
            "unknown command 'rm'; declared commands: hello, noop",
        ),
        ({"argv": ["sh", "-c", "cat vatti-data/vatti.db"]}, "params.argv", "VATTI_ALLOW_RAW_ARGV"),
        ({"command": "noop", "env": {"LD_PRELOAD": "x.so"}}, "params.env", "declared command"),
        ({"command": "hello", "args": {"name": 7}}, "params.args.name", "valid string"),
        ({}, "params.command", "Field required"),
    ],
)
async def test_only_declared_commands_are_accepted(
    api: Api, client: httpx.AsyncClient, params: dict[str, object], field: str, says: str
) -> None:
    body = {"pipeline": "command", "params": params}
    resp = await client.post(JOBS, json=body, headers=auth("submitter"))

    assert resp.status_code == 422, resp.text
    details = {d["field"]: d["message"] for d in resp.json()["error"]["details"]}
    assert says in details[field]
    assert api.job_count() == 0


async def test_a_raw_argv_is_accepted_where_the_operator_allows_it(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    built = build_api(sqlite_database_url, tmp_path, registry=default_registry(allow_raw_argv=True))
    try:
        async with built.client() as client:
            body = {"pipeline": "command", "params": {"argv": [], "outputs": ["ok.txt", "../x"]}}
            bad = await client.post(JOBS, json=body, headers=auth("submitter"))
            body = {"pipeline": "command", "params": {"argv": ["true"], "outputs": ["ok.txt"]}}
            good = await client.post(JOBS, json=body, headers=auth("submitter"))
    finally:
        built.stop_servers()
        built.store.close()
    assert bad.status_code == 422
    assert {d["field"] for d in bad.json()["error"]["details"]} == {
        "params.argv",
        "params.outputs.1",
    }
    assert good.status_code == 201, good.text
    assert built.job_count() == 1


async def test_a_declared_command_sets_the_limits_a_request_may_lower(
    api: Api, client: httpx.AsyncClient
) -> None:
    lowered = await submit(client, "Ada", resources={"memory_mb": 32})
    spec = api.store.get(str(lowered["id"])).spec
    assert spec["resources"] == {"memory_mb": 32, "wall_time_s": 60}
    raised = await submit(client, "Bob", resources={"memory_mb": 4096})
    spec = api.store.get(str(raised["id"])).spec
    assert spec["resources"] == {"memory_mb": 1024, "wall_time_s": 60}  # the command's maximum


async def test_invalid_request_fields(api: Api, client: httpx.AsyncClient) -> None:
    body = {
        "pipeline": "command",
        "params": {"command": "noop"},
        "resources": {"memory_mb": 1},
        "colour": "red",
    }
    resp = await client.post(JOBS, json=body, headers=auth("submitter"))

    assert resp.status_code == 422
    fields = {d["field"] for d in resp.json()["error"]["details"]}
    assert fields == {"resources.memory_mb", "colour"}
    assert api.job_count() == 0


@pytest.mark.parametrize("raw", [b"{not json", b"", b'{"pipeline": "command",'])
async def test_malformed_json_is_400(api: Api, client: httpx.AsyncClient, raw: bytes) -> None:
    headers = {**auth("submitter"), "Content-Type": "application/json"}
    resp = await client.post(JOBS, content=raw, headers=headers)

    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "malformed_json"
    assert api.job_count() == 0


async def test_unknown_pipeline(api: Api, client: httpx.AsyncClient) -> None:
    resp = await client.post(JOBS, json={"pipeline": "nope"}, headers=auth("submitter"))

    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "unknown_pipeline"
    assert [d["field"] for d in error["details"]] == ["pipeline"]
    assert "command" in error["message"]
    assert api.job_count() == 0


async def test_oversized_body_declared(api: Api, client: httpx.AsyncClient) -> None:
    big = command_body("x" * (api.config.max_body_bytes + 1))
    resp = await client.post(JOBS, json=big, headers=auth("submitter"))

    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"
    assert api.job_count() == 0


async def test_oversized_body_chunked(api: Api, client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"pipeline": "command", "params": {"command": "hello", "args": {"name": "'
        for _ in range(api.config.max_body_bytes // 65536 + 1):
            yield b"x" * 65536
        yield b'"}}}'

    headers = {**auth("submitter"), "Content-Type": "application/json"}
    resp = await client.post(JOBS, content=chunks(), headers=headers)

    assert "content-length" not in resp.request.headers
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"
    assert api.job_count() == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic dXNlcjpwdw=="},
        {"Authorization": "Bearer"},
        {"Authorization": "tok-submit-1"},
    ],
)
async def test_missing_or_wrong_token_is_401(
    api: Api, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for resp in [
        await client.post(JOBS, json=command_body(), headers=headers),
        await client.get(JOBS, headers=headers),
    ]:
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"] == "Bearer"
        assert resp.json()["error"]["code"] == "unauthorized"
        assert "wrong" not in resp.text
    assert api.job_count() == 0


async def test_auth_comes_before_parsing(api: Api, client: httpx.AsyncClient) -> None:
    resp = await client.post(JOBS, content=b"{not json", headers={"Authorization": "Bearer x"})
    assert resp.status_code == 401


async def test_wrong_scope_is_403(api: Api, client: httpx.AsyncClient) -> None:
    resp = await client.post(JOBS, json=command_body(), headers=auth("reader"))
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "forbidden"
    assert api.job_count() == 0

    job = await submit(client)
    resp = await client.get(f"{JOBS}/{job['id']}", headers=auth("submitter"))
    assert resp.status_code == 403
    resp = await client.post(f"{JOBS}/{job['id']}/cancel", headers=auth("reader"))
    assert resp.status_code == 403
    assert (await client.get(f"{JOBS}/{job['id']}", headers=auth("reader"))).json()[
        "state"
    ] == "queued"


async def test_admin_may_do_everything(client: httpx.AsyncClient) -> None:
    resp = await client.post(JOBS, json=command_body(), headers=auth("admin"))
    assert resp.status_code == 201
    job_id = resp.json()["id"]
    assert (await client.get(f"{JOBS}/{job_id}", headers=auth("admin"))).status_code == 200
    resp = await client.post(f"{JOBS}/{job_id}/cancel", headers=auth("admin"))
    assert resp.status_code == 202


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("POST", "/cancel"),
        ("POST", "/retry"),
        ("GET", "/events"),
        ("GET", "/logs"),
        ("GET", "/outputs"),
        ("GET", "/outputs/a.txt"),
    ],
)
async def test_unknown_job_is_404(
    api: Api, client: httpx.AsyncClient, method: str, suffix: str
) -> None:
    resp = await client.request(method, f"{JOBS}/01NOSUCHJOB{suffix}", headers=auth("admin"))
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "job_not_found"
    assert api.job_count() == 0


async def test_cancel_then_cancel_again(client: httpx.AsyncClient) -> None:
    job = await submit(client)
    resp = await client.post(f"{JOBS}/{job['id']}/cancel", headers=auth("submitter"))
    assert resp.status_code == 202
    assert resp.json()["state"] == "cancelled"

    again = await client.post(f"{JOBS}/{job['id']}/cancel", headers=auth("submitter"))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_cancellable"


async def test_retry_a_cancelled_job_is_a_new_attempt(api: Api, client: httpx.AsyncClient) -> None:
    job = await submit(client, client_id="INTP00000042")
    await client.post(f"{JOBS}/{job['id']}/cancel", headers=auth("submitter"))
    # the backend's INTP id keeps naming this job: sending it again is still a conflict
    resp = await client.post(
        JOBS, json=command_body(client_id="INTP00000042"), headers=auth("submitter")
    )
    assert resp.status_code == 409

    resp = await client.post(f"{JOBS}/{job['id']}/retry", headers=auth("reader"))
    assert resp.status_code == 403
    resp = await client.post(f"{JOBS}/{job['id']}/retry", headers=auth("submitter"))
    assert resp.status_code == 202, resp.text
    again = resp.json()
    assert (again["id"], again["client_id"], again["state"]) == (
        job["id"],
        "INTP00000042",
        "queued",
    )
    assert again["failure"] is None
    assert again["finished_at"] is None

    events = (await client.get(f"{JOBS}/{job['id']}/events", headers=auth("reader"))).json()
    trail = [(e["event"], e["to_state"], e["attempt"]) for e in events["events"]]
    assert trail == [
        ("submit", "requested", 1),
        ("accept", "queued", 1),
        ("cancel", "cancelled", 1),
        ("retry", "queued", 2),
    ]
    assert api.job_count() == 1

    twice = await client.post(f"{JOBS}/{job['id']}/retry", headers=auth("submitter"))
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "not_retryable"


async def test_events_trail(client: httpx.AsyncClient) -> None:
    job = await submit(client)
    await client.post(f"{JOBS}/{job['id']}/cancel", headers=auth("submitter"))
    resp = await client.get(f"{JOBS}/{job['id']}/events", headers=auth("reader"))

    assert resp.status_code == 200
    events = resp.json()["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["event"] == "submit"
    assert events[0]["from_state"] is None
    assert events[-1]["to_state"] == "cancelled"


async def test_list_pages_and_filters(client: httpx.AsyncClient) -> None:
    ids = [str((await submit(client, str(i)))["id"]) for i in range(5)]
    await client.post(f"{JOBS}/{ids[0]}/cancel", headers=auth("submitter"))

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        resp = await client.get(JOBS, params=params, headers=auth("reader"))
        assert resp.status_code == 200
        page = resp.json()
        assert len(page["jobs"]) <= 2
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))

    queued = await client.get(JOBS, params={"state": "queued"}, headers=auth("reader"))
    assert {j["id"] for j in queued.json()["jobs"]} == set(ids[1:])
    both = await client.get(
        JOBS, params=[("state", "queued"), ("state", "cancelled")], headers=auth("reader")
    )
    assert len(both.json()["jobs"]) == 5
    other = await client.get(JOBS, params={"pipeline": "pgs"}, headers=auth("reader"))
    assert other.json() == {"jobs": [], "next_cursor": None}


async def test_list_rejects_bad_query(api: Api, client: httpx.AsyncClient) -> None:
    resp = await client.get(JOBS, params={"cursor": "garbage!"}, headers=auth("reader"))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_cursor"

    too_many = api.config.page_limit_max + 1
    resp = await client.get(JOBS, params={"limit": too_many}, headers=auth("reader"))
    assert resp.status_code == 422
    assert [d["field"] for d in resp.json()["error"]["details"]] == ["limit"]

    resp = await client.get(JOBS, params={"state": "sleeping"}, headers=auth("reader"))
    assert resp.status_code == 422
    assert resp.json()["error"]["details"][0]["field"].startswith("state")


async def test_logs_as_text_with_tail(api: Api, client: httpx.AsyncClient) -> None:
    job = await submit(client)
    api.logs.root.mkdir(parents=True)
    (api.logs.root / f"{job['id']}.log").write_text("one\ntwo\nthree\n")

    resp = await client.get(f"{JOBS}/{job['id']}/logs", headers=auth("reader"))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.text == "one\ntwo\nthree\n"
    resp = await client.get(f"{JOBS}/{job['id']}/logs?tail=2", headers=auth("reader"))
    assert resp.text == "two\nthree\n"


async def test_logs_missing_is_404(client: httpx.AsyncClient) -> None:
    job = await submit(client)
    resp = await client.get(f"{JOBS}/{job['id']}/logs", headers=auth("reader"))
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "logs_not_found"


async def test_outputs_listed_and_downloaded(api: Api, client: httpx.AsyncClient) -> None:
    job = await submit(client)
    data = bytes(range(256)) * 100
    api.outputs.add(str(job["id"]), {"scores.tsv": b"id\tscore\n", "out/big.bin": data})

    resp = await client.get(f"{JOBS}/{job['id']}/outputs", headers=auth("reader"))
    assert resp.status_code == 200
    listed = {o["name"]: o for o in resp.json()["outputs"]}
    assert set(listed) == {"scores.tsv", "out/big.bin"}
    assert listed["out/big.bin"]["size"] == len(data)
    assert listed["out/big.bin"]["sha256"] == hashlib.sha256(data).hexdigest()

    got = await client.get(listed["out/big.bin"]["url"], headers=auth("reader"))
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "application/octet-stream"
    assert 'filename="big.bin"' in got.headers["content-disposition"]


async def test_outputs_with_any_unicode_name_download(api: Api, client: httpx.AsyncClient) -> None:
    job = await submit(client)
    name = "結果/スコア #1 100%.tsv"
    api.outputs.add(str(job["id"]), {name: b"ok"})

    listed = (await client.get(f"{JOBS}/{job['id']}/outputs", headers=auth("reader"))).json()
    (entry,) = listed["outputs"]
    assert entry["name"] == name
    got = await client.get(entry["url"], headers=auth("reader"))  # the URL is percent-encoded
    assert got.status_code == 200
    assert got.content == b"ok"
    disposition = got.headers["content-disposition"]
    assert disposition.isascii()
    assert "filename*=UTF-8''" + quote("スコア #1 100%.tsv", safe="") in disposition


async def test_outputs_before_results_is_404(client: httpx.AsyncClient) -> None:
    job = await submit(client)
    resp = await client.get(f"{JOBS}/{job['id']}/outputs", headers=auth("reader"))
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "outputs_not_found"


@pytest.mark.parametrize("name", ["%2E%2E/secret", "a/%2E%2E/%2E%2E/secret", "%2Fetc/passwd"])
async def test_output_names_cannot_escape(api: Api, client: httpx.AsyncClient, name: str) -> None:
    job = await submit(client)
    api.outputs.add(str(job["id"]), {"a.txt": b"a"})
    (api.outputs.root / "secret").write_text("no")

    resp = await client.get(f"{JOBS}/{job['id']}/outputs/{name}", headers=auth("reader"))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_output_name"


async def test_output_not_in_manifest_is_404(api: Api, client: httpx.AsyncClient) -> None:
    job = await submit(client)
    api.outputs.add(str(job["id"]), {"a.txt": b"a"})
    resp = await client.get(f"{JOBS}/{job['id']}/outputs/b.txt", headers=auth("reader"))
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "output_not_found"


async def test_unknown_route_uses_envelope(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/nothing", headers=auth("reader"))
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"


async def test_health_and_readiness(api: Api, client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    resp = await client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"] == {"database": True, "schema": True, "engine": False}


async def test_a_database_behind_the_code_is_not_ready(
    api: Api, client: httpx.AsyncClient, sqlite_database_url: str
) -> None:
    downgrade(sqlite_database_url, "0002")  # an older release's schema: migrate before serving
    resp = await client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["schema"] is False
    assert resp.json()["checks"]["database"] is True


async def test_openapi_documents_the_api(client: httpx.AsyncClient) -> None:
    resp = await client.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert {"/api/v1/jobs", "/api/v1/jobs/{job_id}/cancel", "/readyz"} <= set(doc["paths"])
    assert "JobRequest" in doc["components"]["schemas"]
    post = doc["paths"]["/api/v1/jobs"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/JobRequest"}


async def test_a_hattivatti_message_is_a_pgs_job_under_its_run_id(
    api: Api, client: httpx.AsyncClient
) -> None:
    resp = await client.post(
        JOBS, json=hattivatti_message("INTP00000077", (1000, 1000, 1000)), headers=auth("submitter")
    )

    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert (job["pipeline"], job["client_id"]) == ("pgs", "INTP00000077")
    again = await client.post(
        JOBS, json=hattivatti_message("INTP00000077", (1000, 1000, 1000)), headers=auth("submitter")
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_client_id"


async def test_a_bad_hattivatti_message_is_422_naming_its_fields(
    api: Api, client: httpx.AsyncClient
) -> None:
    message = hattivatti_message("INTP00000077", (1000, 1000, 1000), extra=True)
    message["pipeline_param"]["secret_key_details"] = {}  # type: ignore[index]
    resp = await client.post(JOBS, json=message, headers=auth("submitter"))

    assert resp.status_code == 422
    error = resp.json()["error"]
    assert (error["code"], error["message"]) == (
        "invalid_request",
        "the hattivatti message is invalid",
    )
    assert {d["field"]: d["message"] for d in error["details"]} == {
        "extra": "not part of hattivatti's message (it has pipeline_param, globus_details and "
        "secret_key_details)",
        "pipeline_param.secret_key_details": "give secret_key_details beside pipeline_param, "
        "not inside it",
    }
    bad_size = hattivatti_message("INTP00000077", (1000, 1000, 1000))
    bad_size["globus_details"]["files"][1]["size"] = 0  # type: ignore[index]
    resp = await client.post(JOBS, json=bad_size, headers=auth("submitter"))
    assert resp.status_code == 422
    assert [d["field"] for d in resp.json()["error"]["details"]] == ["globus_details.files.1.size"]
    assert api.job_count() == 0
