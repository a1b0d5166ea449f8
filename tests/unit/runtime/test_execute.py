from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from vatti.domain.errors import UnreadableRecord
from vatti.domain.failure import Failure
from vatti.domain.inputs import DeclaredInput
from vatti.domain.layout import manifest_key, outcome_key, result_key, spec_key
from vatti.domain.outcome import Outcome
from vatti.pipelines.base import JobSettings, PipelineOutcome, PipelineRegistry, RunContext
from vatti.pipelines.errors import StepFailed
from vatti.runtime.execute import execute, job_log

pytestmark = pytest.mark.unit

SETTINGS = JobSettings(input_root=Path("/inputs"))


class DictObjects:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.data[key]
        except KeyError:
            raise FileNotFoundError(key) from None

    def put_bytes(self, key: str, data: bytes) -> None:
        self.data[key] = data

    def put_file(self, key: str, path: Path) -> None:
        self.data[key] = path.read_bytes()


class EchoParams(BaseModel):
    text: str
    fail_with: int | None = None
    #: one more output name (made a symbolic link to ``link_to`` when given)
    also: str | None = None
    link_to: str | None = None


class EchoPipeline:
    name = "echo"
    params_model = EchoParams

    def __init__(self) -> None:
        self.seen: list[RunContext] = []

    def inputs(self, params: EchoParams) -> list[DeclaredInput]:
        return []

    def run(self, params: EchoParams, ctx: RunContext) -> PipelineOutcome:
        self.seen.append(ctx)
        if params.fail_with is not None:
            raise StepFailed("echo", "echo broke", step_exit=params.fail_with)
        (ctx.output_dir / "sub").mkdir()
        (ctx.output_dir / "sub" / "echo.txt").write_text(params.text)
        if params.also is None:
            return PipelineOutcome(outputs=["sub/echo.txt"])
        if params.link_to is not None:
            (ctx.output_dir / params.also).symlink_to(params.link_to)
        return PipelineOutcome(outputs=["sub/echo.txt", params.also])


@pytest.fixture
def setup(tmp_path: Path) -> tuple[DictObjects, PipelineRegistry, EchoPipeline, Path]:
    objects = DictObjects()
    registry = PipelineRegistry()
    pipeline = EchoPipeline()
    registry.register("echo", lambda: pipeline)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return objects, registry, pipeline, scratch


def put_spec(objects: DictObjects, job_id: str, pipeline: str, params: dict[str, Any]) -> None:
    spec = {"job_id": job_id, "pipeline": pipeline, "params": params}
    objects.put_bytes(spec_key(job_id), json.dumps(spec).encode())


def test_success_uploads_outputs_manifest_and_outcome(setup: Any) -> None:
    objects, registry, pipeline, scratch = setup
    put_spec(objects, "j1", "echo", {"text": "hello\n"})
    outcome = execute("j1", objects, registry, scratch, SETTINGS, job_log("j1"))
    assert outcome.ok
    assert outcome.outputs == ["sub/echo.txt"]
    assert objects.data[result_key("j1", "sub/echo.txt")] == b"hello\n"
    manifest = json.loads(objects.data[manifest_key("j1")])
    assert manifest["outputs"] == [
        {"name": "sub/echo.txt", "size": 6, "sha256": hashlib.sha256(b"hello\n").hexdigest()}
    ]
    assert Outcome.from_json(objects.data[outcome_key("j1")]) == outcome
    (ctx,) = pipeline.seen
    assert ctx.settings is SETTINGS
    assert ctx.work_dir.parent == scratch
    assert ctx.work_dir.stat().st_mode & 0o777 == 0o700


def test_step_failure_becomes_the_outcome(setup: Any) -> None:
    objects, registry, _, scratch = setup
    put_spec(objects, "j2", "echo", {"text": "x", "fail_with": 3})
    outcome = execute("j2", objects, registry, scratch, JobSettings(), job_log("j2"))
    assert outcome.failure == Failure("pipeline_failed", "echo broke", "echo", 3)
    assert Outcome.from_json(objects.data[outcome_key("j2")]).failure == outcome.failure
    assert result_key("j2", "sub/echo.txt") not in objects.data


@pytest.mark.parametrize(
    ("pipeline", "params", "code"),
    [("nope", {}, "unknown_pipeline"), ("echo", {"text": 5}, "invalid_params")],
)
def test_bad_spec_fails_with_the_error_code(
    setup: Any, pipeline: str, params: dict[str, Any], code: str
) -> None:
    objects, registry, _, scratch = setup
    put_spec(objects, "j3", pipeline, params)
    outcome = execute("j3", objects, registry, scratch, JobSettings(), job_log("j3"))
    assert outcome.failure is not None
    assert outcome.failure.code == code


def test_missing_spec_fails(setup: Any) -> None:
    objects, registry, _, scratch = setup
    outcome = execute("j4", objects, registry, scratch, JobSettings(), job_log("j4"))
    assert outcome.failure is not None
    assert outcome.failure.code == "invalid_spec"
    assert outcome_key("j4") in objects.data


def test_outcome_round_trip_and_garbage() -> None:
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    failed = Outcome(at, failure=Failure("timeout", "too slow", None, None))
    assert Outcome.from_json(failed.to_json()) == failed
    assert not failed.ok
    with pytest.raises(UnreadableRecord):
        Outcome.from_json(b"{not json")
    with pytest.raises(UnreadableRecord):
        Outcome.from_json(b'{"finished_at": "2025-01-01T00:00:00"}')


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"also": "../../outcome.json"}, "would leave the job's results area"),
        ({"also": "/etc/passwd"}, "would leave the job's results area"),
        ({"also": "a/./b"}, "would leave the job's results area"),
        ({"also": "leak.txt", "link_to": "/etc/hostname"}, "points outside the job's outputs"),
        ({"also": "missing.txt"}, "is not a file the job produced"),
    ],
)
def test_an_output_escaping_the_results_area_fails_and_uploads_nothing(
    setup: Any, params: dict[str, Any], message: str
) -> None:
    objects, registry, _, scratch = setup
    put_spec(objects, "j5", "echo", {"text": "fine", **params})

    outcome = execute("j5", objects, registry, scratch, JobSettings(), job_log("j5"))

    assert outcome.failure is not None
    assert (outcome.failure.code, outcome.failure.step) == ("output_refused", "upload-results")
    assert message in outcome.failure.message
    assert sorted(objects.data) == [outcome_key("j5"), spec_key("j5")]
