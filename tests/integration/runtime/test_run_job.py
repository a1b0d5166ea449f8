"""The runtime with the real ``command`` pipeline, real processes and files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

from vatti.domain.inputs import DeclaredInput
from vatti.domain.layout import manifest_key, outcome_key, result_key, spec_key
from vatti.domain.outcome import Outcome
from vatti.pipelines.base import (
    JobSettings,
    PipelineOutcome,
    PipelineRegistry,
    RunContext,
    default_registry,
)
from vatti.runtime.job import run_job_in

pytestmark = pytest.mark.integration

DIR_OBJECTS = """
from pathlib import Path
import shutil


class DirObjects:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def get_bytes(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def put_bytes(self, key: str, data: bytes) -> None:
        self._path(key).write_bytes(data)

    def put_file(self, key: str, path: Path) -> None:
        shutil.copyfile(path, self._path(key))
"""
namespace: dict[str, object] = {}
exec(DIR_OBJECTS, namespace)  # the same helper runs in the child process below
DirObjects = namespace["DirObjects"]


#: the runtime of a service that allows raw argv (these tests run scripts of their own)
RAW = default_registry(allow_raw_argv=True)


def put_spec(store: Path, job_id: str, params: dict[str, object]) -> None:
    key = store / spec_key(job_id)
    key.parent.mkdir(parents=True)
    key.write_text(json.dumps({"job_id": job_id, "pipeline": "command", "params": params}))


def test_command_job_uploads_its_output_and_leaves_no_scratch(tmp_path: Path) -> None:
    store, scratch = tmp_path / "store", tmp_path / "scratch"
    put_spec(store, "j1", {"command": "hello", "args": {"name": "Ada Lovelace"}})
    code = run_job_in("j1", DirObjects(store), default_registry(), scratch)  # type: ignore[operator]
    assert code == 0
    assert (store / result_key("j1", "hello.txt")).read_text() == "hello, Ada Lovelace (job j1)\n"
    manifest = json.loads((store / manifest_key("j1")).read_text())
    assert [e["name"] for e in manifest["outputs"]] == ["hello.txt"]
    assert Outcome.from_json((store / outcome_key("j1")).read_bytes()).ok
    assert list(scratch.iterdir()) == []


COUNTING = """
[commands.count]
argv = ["sh", "-c", 'wc -l < "$1" > lines.txt; printf %s "$2" > cpus.txt', "count",
        "{table}", "{cpus}"]
outputs = ["lines.txt", "cpus.txt"]
limits = {cpus = 3}

[commands.count.params.table]
type = "input"
"""


def test_a_declared_command_reads_its_staged_input_by_its_local_path(tmp_path: Path) -> None:
    store, scratch, root = tmp_path / "store", tmp_path / "scratch", tmp_path / "inputs"
    (root / "tables").mkdir(parents=True)
    (root / "tables" / "t.tsv").write_text("a\nb\nc\n")
    commands = tmp_path / "commands.toml"
    commands.write_text(COUNTING)
    put_spec(store, "j6", {"command": "count", "args": {"table": "tables/t.tsv"}})
    code = run_job_in(  # type: ignore[operator]
        "j6", DirObjects(store), default_registry(commands), scratch, JobSettings(root)
    )
    assert code == 0, (store / outcome_key("j6")).read_text()
    assert (store / result_key("j6", "lines.txt")).read_text().strip() == "3"
    assert (store / result_key("j6", "cpus.txt")).read_text() == "3"


def test_a_runtime_that_refuses_raw_argv_fails_such_a_job(tmp_path: Path) -> None:
    store, scratch = tmp_path / "store", tmp_path / "scratch"
    marker = tmp_path / "ran"
    put_spec(store, "j7", {"argv": ["touch", str(marker)]})
    code = run_job_in("j7", DirObjects(store), default_registry(), scratch)  # type: ignore[operator]
    assert code == 1
    failure = Outcome.from_json((store / outcome_key("j7")).read_bytes()).failure
    assert failure is not None
    assert failure.code == "invalid_params"
    assert "VATTI_ALLOW_RAW_ARGV" in failure.message
    assert not marker.exists()


class SpillParams(BaseModel):
    pass


class SpillingPipeline:
    """Writes a temporary file, as a pipeline spilling decoded genotypes does."""

    name = "spill"
    params_model = SpillParams

    def __init__(self) -> None:
        self.spilled: list[str] = []

    def inputs(self, params: SpillParams) -> list[DeclaredInput]:
        return []

    def run(self, params: SpillParams, ctx: RunContext) -> PipelineOutcome:
        with tempfile.NamedTemporaryFile() as fh:
            self.spilled.append(fh.name)
        return PipelineOutcome([])


def test_temporary_files_stay_in_the_private_scratch(tmp_path: Path) -> None:
    store, scratch = tmp_path / "store", tmp_path / "scratch"
    key = store / spec_key("j4")
    key.parent.mkdir(parents=True)
    key.write_text(json.dumps({"job_id": "j4", "pipeline": "spill", "params": {}}))
    pipeline = SpillingPipeline()
    registry = PipelineRegistry()
    registry.register("spill", lambda: pipeline)
    before = tempfile.gettempdir()

    code = run_job_in("j4", DirObjects(store), registry, scratch)  # type: ignore[operator]

    assert code == 0
    assert Path(pipeline.spilled[0]).parent == scratch / "j4" / "tmp"
    assert list(scratch.iterdir()) == []
    assert tempfile.gettempdir() == before  # the host process's own setting is restored


def test_failing_command_reports_step_and_exit(tmp_path: Path) -> None:
    store, scratch = tmp_path / "store", tmp_path / "scratch"
    put_spec(store, "j2", {"argv": ["sh", "-c", "exit 3"], "outputs": ["out.txt"]})
    code = run_job_in("j2", DirObjects(store), RAW, scratch)  # type: ignore[operator]
    assert code == 1
    failure = Outcome.from_json((store / outcome_key("j2")).read_bytes()).failure
    assert failure is not None
    assert (failure.code, failure.step, failure.exit_code) == ("pipeline_failed", "command", 3)
    assert not (store / result_key("j2", "out.txt")).exists()
    assert list(scratch.iterdir()) == []


def test_command_killed_by_a_signal_reports_the_signal(tmp_path: Path) -> None:
    store, scratch = tmp_path / "store", tmp_path / "scratch"
    put_spec(store, "j5", {"argv": ["sh", "-c", "kill -KILL $$"]})
    code = run_job_in("j5", DirObjects(store), RAW, scratch)  # type: ignore[operator]
    assert code == 1
    failure = Outcome.from_json((store / outcome_key("j5")).read_bytes()).failure
    assert failure is not None
    assert (failure.step, failure.exit_code) == ("command", 137)
    assert "killed by signal SIGKILL" in failure.message


def test_sigterm_deletes_the_scratch_dir_and_records_the_stop(tmp_path: Path) -> None:
    store, scratch = tmp_path / "store", tmp_path / "scratch"
    fifo = tmp_path / "ready"
    os.mkfifo(fifo)
    put_spec(
        store,
        "j3",
        {"argv": ["sh", "-c", f"echo secret > clear.txt; echo up > {fifo}; exec sleep 1000"]},
    )
    script = DIR_OBJECTS + textwrap.dedent(
        f"""
        import sys
        from vatti.pipelines.base import default_registry
        from vatti.runtime.job import run_job_in
        sys.exit(run_job_in("j3", DirObjects(Path({str(store)!r})),
                            default_registry(allow_raw_argv=True), Path({str(scratch)!r})))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert fifo.read_text() == "up\n"  # blocks until the command is running
        assert (scratch / "j3" / "work" / "clear.txt").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) != 0
    finally:
        proc.kill()
    assert list(scratch.iterdir()) == []
    failure = Outcome.from_json((store / outcome_key("j3")).read_bytes()).failure
    assert failure is not None
    assert failure.code == "cancelled"


def test_results_are_encrypted_for_the_requests_public_key(tmp_path: Path) -> None:
    import base64
    import io

    from crypt4gh import lib

    from vatti.domain.recipients import BEGIN, END
    from vatti.staging.objects import ObjectStore
    from vatti.testing.c4gh import new_keypair

    recipient = new_keypair()
    public = f"{BEGIN}\n{base64.b64encode(recipient.public).decode()}\n{END}\n"
    store = ObjectStore.from_url((tmp_path / "store").as_uri())
    argv = ["sh", "-c", "echo '##marker clear result' > a.txt; mkdir d; seq 100000 > d/b.txt"]
    spec = {
        "pipeline": "command",
        "params": {"argv": argv, "outputs": ["a.txt", "d/b.txt"]},
        "results_public_key": public,
    }
    store.put_bytes(spec_key("j1"), json.dumps(spec).encode())

    assert run_job_in("j1", store, default_registry(allow_raw_argv=True), tmp_path / "scratch") == 0

    manifest = json.loads(store.get_bytes(manifest_key("j1")))
    assert [e["name"] for e in manifest["outputs"]] == ["a.txt.c4gh", "d/b.txt.c4gh"]
    outcome = Outcome.from_json(store.get_bytes(outcome_key("j1")))
    assert outcome.outputs == ["a.txt.c4gh", "d/b.txt.c4gh"]
    clear = {
        "a.txt.c4gh": b"##marker clear result\n",
        "d/b.txt.c4gh": "".join(f"{n}\n" for n in range(1, 100001)).encode(),
    }
    for name, expected in clear.items():
        sealed = store.get_bytes(result_key("j1", name))
        assert expected[:20] not in sealed
        out = io.BytesIO()
        lib.decrypt([(0, recipient.secret, None)], io.BytesIO(sealed), out)
        assert out.getvalue() == expected
    results = [k for k, _ in store.list("results/j1/outputs")]
    assert results == [result_key("j1", name) for name in clear]
    with pytest.raises(ValueError, match="No supported encryption method"):
        lib.decrypt(
            [(0, new_keypair().secret, None)],
            io.BytesIO(store.get_bytes(result_key("j1", "a.txt.c4gh"))),
            io.BytesIO(),
        )
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_command_output_linking_out_of_the_work_area_is_refused(tmp_path: Path) -> None:
    store, scratch = tmp_path / "store", tmp_path / "scratch"
    put_spec(
        store, "j2", {"argv": ["ln", "-s", "/etc/hostname", "out.txt"], "outputs": ["out.txt"]}
    )
    assert run_job_in("j2", DirObjects(store), default_registry(allow_raw_argv=True), scratch) == 1  # type: ignore[operator]
    failure = Outcome.from_json((store / outcome_key("j2")).read_bytes()).failure
    assert failure is not None
    assert (failure.code, failure.step) == ("output_refused", "collect-outputs")
    assert failure.message == "output 'out.txt' points outside the work area"
    assert not (store / result_key("j2", "out.txt")).exists()
    assert list(scratch.iterdir()) == []
