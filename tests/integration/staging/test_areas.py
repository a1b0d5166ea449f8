"""ObjectWorkAreas and ObjectOutcomes on every backend, read the way the runtime writes them, with
the results area in the work store or in a store of its own."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.integration.staging.conftest import Backend

from vatti.domain.layout import log_key, outcome_key, spec_key
from vatti.domain.outcome import Outcome
from vatti.runtime.execute import upload_results
from vatti.staging.areas import ObjectOutcomes, ObjectWorkAreas, OutputEntry
from vatti.staging.errors import InvalidKey, OutputNotFound
from vatti.staging.objects import ObjectStore

pytestmark = pytest.mark.integration


@dataclass
class Areas:
    areas: ObjectWorkAreas
    work: ObjectStore
    results: ObjectStore
    tmp: Path

    def produce(self, job_id: str, files: dict[str, bytes]) -> None:
        """Upload outputs with the runtime's own uploader (outputs + manifest)."""
        out = self.tmp / f"out-{job_id}"
        out.mkdir()
        for name, data in files.items():
            (out / name).write_bytes(data)
        upload_results(self.results, job_id, out, sorted(files))

    def keys(self, store: ObjectStore) -> list[str]:
        return [k for prefix in ("jobs/", "results/") for k, _ in store.list(prefix)]


@pytest.fixture(params=["shared", "separate"])
def setup(request: pytest.FixtureRequest, backend: Backend, tmp_path: Path) -> Areas:
    work = backend.open("work")
    results = backend.open("results") if request.param == "separate" else work
    return Areas(ObjectWorkAreas(work, results), work, results, tmp_path)


def test_provision_writes_the_spec_where_the_runtime_reads_it(setup: Areas) -> None:
    spec = {"pipeline": "command", "params": {"command": "noop"}}
    setup.areas.provision("j1", spec)
    assert json.loads(setup.work.get_bytes(spec_key("j1"))) == spec
    assert setup.areas.work_job_ids() == ["j1"]


def test_work_job_ids_lists_only_jobs_with_a_work_area(setup: Areas) -> None:
    setup.areas.provision("j1", {"pipeline": "command"})
    setup.areas.provision("j2", {"pipeline": "command"})
    setup.produce("j3", {"a.txt": b"a"})
    setup.areas.save_log("j4", b"log")
    setup.areas.delete_work("j2")
    setup.areas.delete_work("j2")  # idempotent
    assert setup.areas.work_job_ids() == ["j1"]
    assert setup.areas.results_job_ids() == ["j3"]
    assert setup.areas.logged_job_ids() == ["j4"]


def test_outputs_are_listed_and_read_from_the_manifest(setup: Areas) -> None:
    files = {"scores.txt.gz": b"\x1f\x8b" + b"s" * 5000, "report.html": b"<html></html>"}
    setup.produce("j1", files)
    listed = setup.areas.list_outputs("j1")
    assert sorted(listed, key=lambda e: e.name) == sorted(
        (OutputEntry(n, len(d), hashlib.sha256(d).hexdigest()) for n, d in files.items()),
        key=lambda e: e.name,
    )
    assert b"".join(setup.areas.open_output("j1", "scores.txt.gz")) == files["scores.txt.gz"]


def test_the_results_area_holds_outputs_and_the_work_area_the_rest(setup: Areas) -> None:
    setup.areas.provision("j1", {"pipeline": "command"})
    setup.produce("j1", {"a.txt": b"a"})
    setup.areas.save_log("j1", b"log")
    setup.work.put_bytes(outcome_key("j1"), b"{}")
    work = [spec_key("j1"), outcome_key("j1"), log_key("j1")]
    results = ["results/j1/manifest.json", "results/j1/outputs/a.txt"]
    if setup.work is setup.results:
        assert sorted(setup.keys(setup.work)) == sorted(work + results)
    else:
        assert sorted(setup.keys(setup.work)) == sorted(work)
        assert sorted(setup.keys(setup.results)) == sorted(results)


def test_unknown_outputs_and_jobs_are_output_not_found(setup: Areas) -> None:
    setup.produce("j1", {"a.txt": b"a"})
    setup.results.put_bytes("results/j1/outputs/unlisted.txt", b"x")
    with pytest.raises(OutputNotFound):
        setup.areas.list_outputs("j2")
    with pytest.raises(OutputNotFound):
        setup.areas.open_output("j1", "unlisted.txt")  # only manifest entries are served
    with pytest.raises(OutputNotFound):
        setup.areas.open_output("j1", "../manifest.json")
    with pytest.raises(InvalidKey):
        setup.areas.list_outputs("../j1")


def test_deleting_one_jobs_areas_leaves_every_other_job_alone(setup: Areas) -> None:
    for job_id in ("ab", "abc", "j2"):  # "ab" is the text of a prefix of "abc"
        setup.areas.provision(job_id, {"pipeline": "command"})
        setup.produce(job_id, {"a.txt": job_id.encode()})
        setup.areas.save_log(job_id, b"log")
    before = {job_id: setup.areas.list_outputs(job_id) for job_id in ("abc", "j2")}

    setup.areas.delete_results("ab")
    setup.areas.delete_results("ab")  # idempotent
    setup.areas.delete_work("ab")

    with pytest.raises(OutputNotFound):
        setup.areas.list_outputs("ab")
    assert setup.areas.read_log("ab") == b"log"  # kept for the TTL, then swept
    assert {job_id: setup.areas.list_outputs(job_id) for job_id in ("abc", "j2")} == before
    assert b"".join(setup.areas.open_output("abc", "a.txt")) == b"abc"
    assert setup.areas.work_job_ids() == ["abc", "j2"]
    assert setup.areas.results_job_ids() == ["abc", "j2"]


def test_outcomes_read_and_forget(setup: Areas) -> None:
    outcomes = ObjectOutcomes(setup.work)
    assert outcomes.read("j1") is None
    done = Outcome(datetime(2025, 1, 1, tzinfo=UTC), outputs=["a.txt"])
    setup.work.put_bytes(outcome_key("j1"), done.to_json())
    assert outcomes.read("j1") == done
    setup.work.put_bytes(outcome_key("j2"), b"not json")
    assert outcomes.read("j2") is None
    outcomes.forget("j1")
    outcomes.forget("j1")
    assert outcomes.read("j1") is None
