"""``/metrics`` of an API-only replica counts what two separate engines did.

One ``vatti serve --no-engine`` and two ``vatti engine`` share a PostgreSQL database. Jobs
succeed (two no-op commands and a ``pgs`` job), fail and get cancelled; their webhooks are
delivered to a receiver that refuses its first message. The replica, which ran none of it, is
scraped and its numbers checked against what happened.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.conftest import (
    JOBS,
    TERMINAL,
    command,
    example,
    free_port,
    unique,
    vatti,
    wait_for,
)
from tests.e2e.processes import Cluster
from tests.integration.notify.conftest import Received, Receiver

from vatti.secretbox import new_key

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(http: httpx.Client) -> Samples:
    answer = http.get("/metrics")
    assert answer.status_code == 200, answer.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` that has ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


class FlakyReceiver:
    """A webhook receiver that refuses the first message (503), then takes every one."""

    def __init__(self, port: int) -> None:
        self._lock = threading.Lock()
        self.refused = 0
        self.receiver = Receiver(port, answer=self._answer)

    def _answer(self, _request: Received) -> int:
        with self._lock:
            if self.refused == 0:
                self.refused = 1
                return 503
        return 204


@pytest.fixture
def receiver() -> Iterator[FlakyReceiver]:
    flaky = FlakyReceiver(free_port())
    flaky.receiver.start()
    try:
        yield flaky
    finally:
        flaky.receiver.stop()


@pytest.fixture
def cluster(
    tmp_path: Path, postgres_database_url: str, receiver: FlakyReceiver
) -> Iterator[Cluster]:
    c = Cluster(
        tmp_path,
        VATTI_DATABASE_URL=postgres_database_url,
        VATTI_SECRET_KEY=new_key(),
        VATTI_MAX_CONCURRENT_JOBS="4",
        VATTI_POLL_INTERVAL="0.3",
        VATTI_ALLOW_RAW_ARGV="1",
        VATTI_INPUT_ROOT=str(tmp_path),
        VATTI_PGS_OFFLINE="1",
        VATTI_WEBHOOK_URL=receiver.receiver.url,
        VATTI_WEBHOOK_SECRET="metrics-test-secret",
    )
    try:
        yield c
    finally:
        c.stop_all()


def pgs_request(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    made = vatti("pgs", "demo-data", "--out", "vatti-data/demo-input", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    body = unique(example("pgs-demo.json"))
    params = body["params"]
    for target in params["target_genomes"]:
        for key in ("geno", "pheno", "variants"):
            target[key] = str(tmp_path / target[key])
    params["scorefiles"] = [str(tmp_path / f) for f in params["scorefiles"]]
    return body


def test_an_api_replica_reports_what_separate_engines_did(
    cluster: Cluster, receiver: FlakyReceiver, tmp_path: Path
) -> None:
    pgs = pgs_request(tmp_path, cluster.env)
    cluster.api()
    cluster.engine("engine-a")
    cluster.engine("engine-b")
    headers = {"Authorization": f"Bearer {cluster.token}"}
    with httpx.Client(base_url=cluster.url, headers=headers, timeout=30) as http:

        def submit(body: dict[str, Any]) -> str:
            answer = http.post(JOBS, json=body)
            assert answer.status_code == 201, answer.text
            return str(answer.json()["id"])

        def state(job_id: str) -> str:
            return str(http.get(f"{JOBS}/{job_id}").json()["state"])

        sleeper = submit(command("sleep", "60"))
        ok = [submit(unique(example("command-noop.json"))) for _ in range(2)]
        broken = submit(command("sh", "-c", "exit 3"))
        scored = submit(pgs)
        wait_for(lambda: state(sleeper) == "running", 60, "the sleeper to run")
        assert http.post(f"{JOBS}/{sleeper}/cancel").status_code == 202
        every = [sleeper, *ok, broken, scored]
        wait_for(lambda: all(state(j) in TERMINAL for j in every), 180, "every job to end")
        assert [state(j) for j in every] == [
            "cancelled",
            "succeeded",
            "succeeded",
            "failed",
            "succeeded",
        ]
        # (before the download below, an audit event that notifies no one)
        events = sum(len(http.get(f"{JOBS}/{j}/events").json()["events"]) for j in every)
        summary = json.loads(http.get(f"{JOBS}/{scored}/outputs/match_summary.json").content)

        def drained() -> bool:
            return value(scrape(http), "vatti_outbox_pending", destination_kind="webhook") == 0

        wait_for(drained, 60, "every notification delivered")
        found = scrape(http)
        # a second scrape of the same history answers the same
        assert scrape(http) == found

    # jobs by state and pipeline, the queue
    assert value(found, "vatti_jobs", state="succeeded", pipeline="command") == 2
    assert value(found, "vatti_jobs", state="failed", pipeline="command") == 1
    assert value(found, "vatti_jobs", state="cancelled", pipeline="command") == 1
    assert value(found, "vatti_jobs", state="succeeded", pipeline="pgs") == 1
    assert value(found, "vatti_queue_depth") == 0
    assert total(found, "vatti_jobs_ended_total", executor="local") == 5
    # durations: every job ran, so each has a wait, a start and a run
    assert total(found, "vatti_job_submit_to_start_seconds_count") == 5
    assert total(found, "vatti_job_admission_wait_seconds_count") == 5
    assert (
        value(
            found,
            "vatti_job_run_seconds_count",
            state="succeeded",
            pipeline="command",
            executor="local",
        )
        == 2
    )
    assert (
        value(
            found,
            "vatti_job_run_seconds_count",
            state="cancelled",
            pipeline="command",
            executor="local",
        )
        == 1
    )
    run = value(
        found, "vatti_job_run_seconds_sum", state="cancelled", pipeline="command", executor="local"
    )
    assert 0 < run < 60  # the sleeper ran until it was cancelled
    # failures by kind; none was the executor's doing
    assert value(found, "vatti_job_failures_total", pipeline="command", kind="pipeline_failed") == 1
    assert total(found, "vatti_job_failures_total") == 1  # a cancellation is no failure
    assert total(found, "vatti_executor_errors_total") == 0
    # every state change was delivered to the webhook, one after a refusal
    delivered = value(found, "vatti_outbox_delivered_total", destination_kind="webhook")
    assert delivered == events == len(receiver.receiver.received)
    attempts = value(found, "vatti_outbox_delivery_attempts_total", destination_kind="webhook")
    assert attempts == delivered + 1
    latency = "vatti_outbox_delivery_latency_seconds_count"
    assert value(found, latency, destination_kind="webhook") == delivered
    assert value(found, "vatti_outbox_dead_total", destination_kind="webhook") == 0
    # the pgs job's match rates, as its match summary says
    rates = [row["match_rate"] for row in summary]
    assert value(found, "vatti_pgs_match_rate_count") == len(rates) == 2
    assert value(found, "vatti_pgs_match_rate_sum") == pytest.approx(sum(rates))
    passed = sum(1 for row in summary if row["passed"])
    assert value(found, "vatti_pgs_scores_total", state="passed") == passed
    assert value(found, "vatti_pgs_scores_total", state="dropped") == len(rates) - passed
    # no job id in any label
    labels = {v for (_, ls) in found for _, v in ls}
    assert not labels & set(every)
