"""Tenants, scopes, actors and the submission rate over the HTTP API (real app, SQLite store).

A token sees and acts on its own tenant's jobs only (another tenant's answers 404, as a job that
does not exist); admin sees all; identical requests of two tenants are two jobs; a token narrowed
to a pipeline or command is refused others (403); every submit, cancel, retry and download is an
event row naming its actor; submissions beyond a token's rate get 429 with Retry-After.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.api.conftest import TOKENS, Api, auth, build_api, command_body

from vatti.api.auth import hash_token
from vatti.domain.access import OPERATOR_CALLER

pytestmark = pytest.mark.integration

JOBS = "/api/v1/jobs"
UNKNOWN = "01900000-0000-7000-8000-000000000000"


def actor(who: str) -> str:
    """The actor an event row names for a configured token: its id, never the token."""
    return f"token:cfg-{hash_token(TOKENS[who])[:12]}"


async def submit(client: httpx.AsyncClient, who: str, **extra: Any) -> dict[str, Any]:
    resp = await client.post(JOBS, json=command_body("hi", **extra), headers=auth(who))
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def with_results(api: Api, job_id: str) -> None:
    """Give the job an output (scores.tsv) and a log, as a finished run would."""
    api.outputs.add(job_id, {"scores.tsv": b"id\tscore\n"})
    api.logs.root.mkdir(parents=True, exist_ok=True)
    (api.logs.root / f"{job_id}.log").write_text("one\ntwo\n")


def rows(api: Api, job_id: str) -> list[tuple[str, str | None]]:
    """The job's event rows, as the store holds them: (event, actor)."""
    return [(r.event.value, r.actor) for r in api.store.events(job_id)]


async def test_another_tenants_job_is_not_found_by_any_route(
    api: Api, client: httpx.AsyncClient
) -> None:
    job = await submit(client, "lab-a")
    with_results(api, job["id"])
    routes = [
        ("GET", ""),
        ("GET", "/events"),
        ("GET", "/logs"),
        ("GET", "/outputs"),
        ("GET", "/outputs/scores.tsv"),
        ("POST", "/cancel"),
        ("POST", "/retry"),
    ]
    for method, tail in routes:
        theirs = await client.request(method, f"{JOBS}/{job['id']}{tail}", headers=auth("lab-b"))
        none = await client.request(method, f"{JOBS}/{UNKNOWN}{tail}", headers=auth("lab-b"))
        assert theirs.status_code == 404, (method, tail, theirs.text)
        # the same answer as for a job that does not exist: nothing tells them apart
        error, nothing = theirs.json()["error"], none.json()["error"]
        assert error["code"] == nothing["code"] == "job_not_found"
        assert error["message"].replace(job["id"], "ID") == nothing["message"].replace(
            UNKNOWN, "ID"
        )
        mine = await client.request(method, f"{JOBS}/{job['id']}{tail}", headers=auth("lab-a"))
        assert mine.status_code < 300, (method, tail, mine.text)
    # lab-a cancelled and retried it; nothing of lab-b's reached it
    assert rows(api, job["id"])[-2:] == [("cancel", actor("lab-a")), ("retry", actor("lab-a"))]
    assert all(a != actor("lab-b") for _, a in rows(api, job["id"]))


async def test_a_tenant_lists_its_own_jobs_and_admin_lists_all(client: httpx.AsyncClient) -> None:
    a = await submit(client, "lab-a", labels={"n": "1"})
    b = await submit(client, "lab-b", labels={"n": "2"})
    default = await submit(client, "submitter", labels={"n": "3"})

    async def listed(who: str, **params: str) -> set[str]:
        resp = await client.get(JOBS, headers=auth(who), params=params)
        assert resp.status_code == 200, resp.text
        return {j["id"] for j in resp.json()["jobs"]}

    assert await listed("lab-a") == {a["id"]}
    assert await listed("lab-b") == {b["id"]}
    assert await listed("reader") == {default["id"]}  # VATTI_API_TOKENS without TENANT@
    assert await listed("admin") == {a["id"], b["id"], default["id"]}
    assert await listed("admin", tenant="lab-b") == {b["id"]}
    assert await listed("lab-a", tenant="lab-b") == set()  # not another tenant's, even asked
    assert await listed("lab-a", tenant="lab-a") == {a["id"]}
    resp = await client.get(f"{JOBS}/{a['id']}", headers=auth("admin"))
    assert resp.status_code == 200
    assert (a["tenant"], b["tenant"], resp.json()["tenant"]) == ("lab-a", "lab-b", "lab-a")


async def test_identical_requests_of_two_tenants_are_two_jobs(
    api: Api, client: httpx.AsyncClient
) -> None:
    a = await submit(client, "lab-a")
    b = await submit(client, "lab-b")
    assert a["id"] != b["id"]
    again = await client.post(JOBS, json=command_body("hi"), headers=auth("lab-a"))
    assert again.status_code == 200  # deduplicated within the tenant
    assert again.json()["id"] == a["id"]

    a1 = await submit(client, "lab-a", client_id="INTP00000001")
    b1 = await submit(client, "lab-b", client_id="INTP00000001")  # the same id, another tenant
    assert a1["id"] != b1["id"]
    conflict = await client.post(
        JOBS, json=command_body("other", client_id="INTP00000001"), headers=auth("lab-b")
    )
    assert conflict.status_code == 409
    assert conflict.json()["job"]["id"] == b1["id"]  # its own job, never the other tenant's
    assert api.store.get(a1["id"]).tenant == "lab-a"
    assert api.store.get(b1["id"]).tenant == "lab-b"


@pytest.mark.parametrize(
    ("who", "body", "said"),
    [
        ("hello-only", {"pipeline": "command", "params": {"command": "noop"}}, "'noop'"),
        (
            "hello-only",
            {"pipeline": "command", "params": {"argv": ["sh", "-c", "id"]}},
            "'command' pipeline",
        ),
        ("pgs-only", {"pipeline": "command", "params": {"command": "hello"}}, "'command'"),
        ("reader", command_body("true"), "lacks the 'submit' scope"),
    ],
)
async def test_a_narrowed_token_is_refused_other_pipelines_and_commands(
    api: Api, client: httpx.AsyncClient, who: str, body: dict[str, Any], said: str
) -> None:
    resp = await client.post(JOBS, json=body, headers=auth(who))
    assert resp.status_code == 403, resp.text
    error = resp.json()["error"]
    assert error["code"] == "forbidden"
    assert said in error["message"]
    assert api.job_count() == 0


async def test_a_narrowed_token_passes_for_its_own_command(client: httpx.AsyncClient) -> None:
    body = {"pipeline": "command", "params": {"command": "hello"}}
    resp = await client.post(JOBS, json=body, headers=auth("hello-only"))
    assert resp.status_code == 201, resp.text


async def test_cancel_and_retry_need_a_scope_that_covers_the_job(
    api: Api, client: httpx.AsyncClient
) -> None:
    created = await client.post(JOBS, json=command_body(), headers=auth("lab-a"))  # noop
    assert created.status_code == 201, created.text
    job = created.json()
    for who in ("pgs-only", "hello-only"):  # same tenant, scopes that could not submit it
        resp = await client.post(f"{JOBS}/{job['id']}/cancel", headers=auth(who))
        assert resp.status_code == 403, resp.text
    resp = await client.post(f"{JOBS}/{job['id']}/cancel", headers=auth("admin"))
    assert resp.status_code == 202
    resp = await client.post(f"{JOBS}/{job['id']}/retry", headers=auth("lab-a"))
    assert resp.status_code == 202
    assert rows(api, job["id"]) == [
        ("submit", actor("lab-a")),
        ("accept", actor("lab-a")),
        ("cancel", actor("admin")),
        ("retry", actor("lab-a")),
    ]


async def test_every_download_is_an_event_row_naming_its_actor(
    api: Api, client: httpx.AsyncClient
) -> None:
    job = await submit(client, "lab-a")
    with_results(api, job["id"])

    assert (await client.get(f"{JOBS}/{job['id']}/logs?tail=1", headers=auth("lab-a"))).text
    got = await client.get(f"{JOBS}/{job['id']}/outputs/scores.tsv", headers=auth("admin"))
    assert got.content == b"id\tscore\n"
    listing = await client.get(f"{JOBS}/{job['id']}/outputs", headers=auth("lab-a"))
    assert listing.status_code == 200  # a listing reads the manifest only: no row

    records = api.store.events(job["id"])
    downloads = [(r.event.value, r.actor, r.detail) for r in records[2:]]
    assert downloads == [
        ("download_log", actor("lab-a"), {"tail": 1}),
        ("download_output", actor("admin"), {"name": "scores.tsv"}),
    ]
    assert all(r.from_state == r.to_state == records[1].to_state for r in records[2:])
    events = (await client.get(f"{JOBS}/{job['id']}/events", headers=auth("lab-a"))).json()
    assert [e["actor"] for e in events["events"]] == [r.actor for r in records]
    assert TOKENS["lab-a"] not in str(events) + str(records)  # an id, never the token
    assert api.store.get(job["id"]).state.value == "queued"  # a download changes no state


async def test_a_failed_download_writes_no_row(api: Api, client: httpx.AsyncClient) -> None:
    job = await submit(client, "lab-a")
    for tail in ("/logs", "/outputs/none.tsv"):
        resp = await client.get(f"{JOBS}/{job['id']}{tail}", headers=auth("lab-a"))
        assert resp.status_code == 404
    assert [e for e, _ in rows(api, job["id"])] == ["submit", "accept"]


async def test_the_operator_is_the_actor_of_what_it_does_through_the_service(api: Api) -> None:
    job = api.jobs.submit(command_body("true"), caller=OPERATOR_CALLER).job
    api.jobs.cancel(job.id, caller=OPERATOR_CALLER)
    assert {a for _, a in rows(api, job.id)} == {"operator:vatti"}
    assert job.tenant == "default"


@pytest.fixture
def limited(sqlite_database_url: str, tmp_path: Path) -> Iterator[Api]:
    built = build_api(sqlite_database_url, tmp_path, submit_rate_per_min=1, submit_burst=2)
    try:
        yield built
    finally:
        built.store.close()


async def test_submissions_over_a_tokens_rate_get_429_with_retry_after(limited: Api) -> None:
    async with limited.client() as client:
        for n in range(2):  # the burst
            resp = await client.post(JOBS, json=command_body(str(n)), headers=auth("lab-a"))
            assert resp.status_code == 201, resp.text
        resp = await client.post(JOBS, json=command_body("2"), headers=auth("lab-a"))
        assert resp.status_code == 429
        assert resp.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(resp.headers["Retry-After"]) <= 60  # one a minute: the next is due then
        assert resp.headers["Retry-After"] in resp.json()["error"]["message"]
        assert limited.job_count() == 2
        # another token of the same tenant has its own budget; reads are not limited
        resp = await client.post(JOBS, json=command_body("3"), headers=auth("hello-only"))
        assert resp.status_code != 429
        resp = await client.post(JOBS, json=command_body("4"), headers=auth("lab-b"))
        assert resp.status_code == 201
        assert (await client.get(JOBS, headers=auth("lab-a"))).status_code == 200
