"""ObjectWorkAreas and ObjectOutcomes on file://, read the way the runtime writes them."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vatti.domain.layout import outcome_key, spec_key
from vatti.domain.outcome import Outcome
from vatti.runtime.execute import upload_results
from vatti.staging.areas import ObjectOutcomes, ObjectWorkAreas, OutputEntry
from vatti.staging.errors import InvalidKey, OutputNotFound
from vatti.staging.objects import ObjectStore

pytestmark = pytest.mark.integration


@pytest.fixture
def objects(tmp_path: Path) -> ObjectStore:
    return ObjectStore.from_url((tmp_path / "objects").as_uri())


@pytest.fixture
def areas(objects: ObjectStore) -> ObjectWorkAreas:
    return ObjectWorkAreas(objects)


def produce(objects: ObjectStore, tmp_path: Path, job_id: str, files: dict[str, bytes]) -> None:
    """Upload outputs with the runtime's own uploader (results + manifest)."""
    out = tmp_path / f"out-{job_id}"
    out.mkdir()
    for name, data in files.items():
        (out / name).write_bytes(data)
    upload_results(objects, job_id, out, sorted(files))


def test_provision_writes_the_spec_where_the_runtime_reads_it(
    areas: ObjectWorkAreas, objects: ObjectStore
) -> None:
    spec = {"pipeline": "command", "params": {"argv": ["true"]}}
    areas.provision("j1", spec)
    assert json.loads(objects.get_bytes(spec_key("j1"))) == spec
    assert areas.work_job_ids() == ["j1"]


def test_work_job_ids_lists_only_jobs_with_a_work_area(
    areas: ObjectWorkAreas, objects: ObjectStore, tmp_path: Path
) -> None:
    areas.provision("j1", {"pipeline": "command"})
    areas.provision("j2", {"pipeline": "command"})
    produce(objects, tmp_path, "j3", {"a.txt": b"a"})
    areas.delete_work("j2")
    areas.delete_work("j2")  # idempotent
    assert areas.work_job_ids() == ["j1"]


def test_outputs_are_listed_and_read_from_the_manifest(
    areas: ObjectWorkAreas, objects: ObjectStore, tmp_path: Path
) -> None:
    files = {"scores.txt.gz": b"\x1f\x8b" + b"s" * 5000, "report.html": b"<html></html>"}
    produce(objects, tmp_path, "j1", files)
    listed = areas.list_outputs("j1")
    assert sorted(listed, key=lambda e: e.name) == sorted(
        (OutputEntry(n, len(d), hashlib.sha256(d).hexdigest()) for n, d in files.items()),
        key=lambda e: e.name,
    )
    assert b"".join(areas.open_output("j1", "scores.txt.gz")) == files["scores.txt.gz"]


def test_unknown_outputs_and_jobs_are_output_not_found(
    areas: ObjectWorkAreas, objects: ObjectStore, tmp_path: Path
) -> None:
    produce(objects, tmp_path, "j1", {"a.txt": b"a"})
    objects.put_bytes("jobs/j1/results/unlisted.txt", b"x")
    with pytest.raises(OutputNotFound):
        areas.list_outputs("j2")
    with pytest.raises(OutputNotFound):
        areas.open_output("j1", "unlisted.txt")  # only manifest entries are served
    with pytest.raises(OutputNotFound):
        areas.open_output("j1", "../outcome.json")
    with pytest.raises(InvalidKey):
        areas.list_outputs("../j1")


def test_delete_results_removes_outputs_and_manifest(
    areas: ObjectWorkAreas, objects: ObjectStore, tmp_path: Path
) -> None:
    produce(objects, tmp_path, "j1", {"a.txt": b"a"})
    areas.provision("j1", {"pipeline": "command"})
    areas.delete_results("j1")
    areas.delete_results("j1")  # idempotent
    with pytest.raises(OutputNotFound):
        areas.list_outputs("j1")
    assert [k for k, _ in objects.list("jobs/j1/")] == [spec_key("j1")]


def test_outcomes_read_and_forget(objects: ObjectStore) -> None:
    outcomes = ObjectOutcomes(objects)
    assert outcomes.read("j1") is None
    done = Outcome(datetime(2025, 1, 1, tzinfo=UTC), outputs=["a.txt"])
    objects.put_bytes(outcome_key("j1"), done.to_json())
    assert outcomes.read("j1") == done
    objects.put_bytes(outcome_key("j2"), b"not json")
    assert outcomes.read("j2") is None
    outcomes.forget("j1")
    outcomes.forget("j1")
    assert outcomes.read("j1") is None
