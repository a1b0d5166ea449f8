"""The local executor: the executor contract, plus what only a local launcher has."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from vatti.executors.base import Exited, Launch, Running, Vanished
from vatti.executors.errors import SubmitFailed
from vatti.executors.local import LocalExecutor
from vatti.executors.local_handle import LocalHandle
from vatti.secretbox import new_key
from vatti.testing.executors import (
    ExecutorContract,
    ExecutorRig,
    closing_all,
    data_dir_for_jobs,
    final,
    new_job_id,
    pid_gone,
    scripted,
    wait_for_log,
    wait_until,
    whole_log,
)
from vatti.testing.job_scripts import ENTRY

pytestmark = pytest.mark.integration


def local_rig(tmp_path: Path, data: Path) -> ExecutorRig:
    objects = tmp_path / "objects"
    objects.mkdir()

    def build() -> LocalExecutor:
        return LocalExecutor(data, timeout_grace_s=2.0, wall_time_margin_s=1.0, entry=ENTRY)

    env = {
        "VATTI_DATA_DIR": str(data),
        "VATTI_OBJECT_STORE_URL": objects.as_uri(),
        "VATTI_PGS_OFFLINE": "1",
    }
    return ExecutorRig(
        build, objects.as_uri(), env, tmp_path, wall_time_margin_s=1.0, data_dir=data
    )


class TestLocalExecutor(ExecutorContract):
    @pytest.fixture
    def rig(self, tmp_path: Path) -> Iterator[ExecutorRig]:
        with data_dir_for_jobs() as data, closing_all(local_rig(tmp_path, data)) as rig:
            yield rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ExecutorRig]:
    with data_dir_for_jobs() as data, closing_all(local_rig(tmp_path, data)) as built:
        yield built


def local(rig: ExecutorRig) -> LocalExecutor:
    executor = rig.executor()
    assert isinstance(executor, LocalExecutor)
    return executor


def test_jobs_are_forked_by_the_launcher_not_the_engine(rig: ExecutorRig) -> None:
    ex = local(rig)
    handle = ex.submit(scripted(new_job_id(), {"pid": True, "sleep": 1000}))
    wait_for_log(ex, handle, r"pid=\d+\n")
    wrapper = psutil.Process(LocalHandle.loads(handle).pid)
    assert wrapper.ppid() == ex.launcher.pid != os.getpid()
    assert os.getsid(wrapper.pid) == os.getpgid(wrapper.pid) == wrapper.pid  # its own session
    ex.terminate(handle, 5.0)


def test_an_exit_is_reported_when_it_happens(rig: ExecutorRig) -> None:
    ex = local(rig)
    ended: list[str] = []
    ex.on_exit(ended.append)
    job_id = new_job_id()
    handle = ex.submit(scripted(job_id, {"exit": 0}))
    wait_until("the exit report", lambda: job_id in ended)
    assert ex.poll(handle) == Exited(0)


def test_a_dead_launcher_is_restarted_and_its_running_jobs_still_found(rig: ExecutorRig) -> None:
    ex = local(rig)
    go = rig.shared_dir / "go"
    running = ex.submit(scripted(new_job_id(), {"wait_for": str(go), "exit": 4}))
    first = ex.launcher.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_until("the launcher to be gone", lambda: pid_gone(first))
    assert isinstance(ex.poll(running), Running)
    after = ex.submit(scripted(new_job_id(), {"exit": 0}))
    assert ex.launcher.pid not in (None, first)
    assert final(ex, after) == Exited(0)
    go.touch()
    assert final(ex, running) == Exited(4)  # its wrapper outlived the launcher


def test_the_launcher_starts_with_a_scrubbed_environment(
    rig: ExecutorRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VATTI_WEBHOOK_SECRET", "hush-hush-1234")
    monkeypatch.setenv("VATTI_DATABASE_URL", "postgresql://u:pw-5678@db/x")
    service_key = new_key()
    monkeypatch.setenv("VATTI_SECRET_KEY", service_key)
    ex = LocalExecutor(rig.shared_dir / "data2", entry=ENTRY)
    rig.executors.append(ex)
    handle = ex.submit(scripted(new_job_id(), {"pid": True, "sleep": 1000}))
    pid = int(wait_for_log(ex, handle, r"pid=(\d+)\n")[1])
    assert ex.launcher.pid is not None
    for process in (ex.launcher.pid, pid):
        environ = Path(f"/proc/{process}/environ").read_bytes()
        assert b"hush-hush-1234" not in environ
        assert b"pw-5678" not in environ
        assert service_key.encode() not in environ
    ex.terminate(handle, 5.0)


def test_job_environment_is_the_launch_env_plus_the_inherited_basics(
    rig: ExecutorRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VATTI_WEBHOOK_SECRET", "hush-hush-1234")
    ex = LocalExecutor(rig.shared_dir / "data3", entry="vatti.testing.envdump:main")
    rig.executors.append(ex)
    handle = ex.submit(Launch(job_id=new_job_id(), env={"VATTI_JOB_THING": "given"}))
    assert final(ex, handle) == Exited(0)
    env = json.loads(whole_log(ex, handle))
    assert env["VATTI_JOB_THING"] == "given"
    assert env["PATH"] == os.environ["PATH"]
    assert "VATTI_WEBHOOK_SECRET" not in env
    assert env["VATTI_SCRATCH_DIR"] == str(ex.scratch_root)
    assert "VATTI_SECRETS_FD" in env


def test_a_killed_wrapper_is_vanished_and_cleanup_stops_the_rest(rig: ExecutorRig) -> None:
    ex = local(rig)
    handle = ex.submit(scripted(new_job_id(), {"pid": True, "sleep": 1000}))
    pid = int(wait_for_log(ex, handle, r"pid=(\d+)\n")[1])
    h = LocalHandle.loads(handle)
    os.kill(h.pid, signal.SIGKILL)
    status = final(ex, handle)
    assert isinstance(status, Vanished)
    assert str(h.pid) in status.reason
    assert not pid_gone(pid)  # the job itself lives on, orphaned, until cleanup
    ex.cleanup(handle)
    assert pid_gone(pid)


def test_run_records_are_listed_by_job_id(rig: ExecutorRig) -> None:
    ex = local(rig)
    job_id = "01a23361-d4e5-7667-a0c5-e61372d70527"
    assert final(ex, ex.submit(scripted(job_id, {}))) == Exited(0)
    (ex.run_dir("x").parent / "not-a-job").mkdir()
    assert ex.run_ids() == [job_id]
    ex.delete_run(job_id)
    ex.delete_run(job_id)
    assert ex.run_ids() == []


def test_resubmitting_a_job_forgets_the_earlier_exit(rig: ExecutorRig) -> None:
    ex = local(rig)
    assert final(ex, ex.submit(scripted("again", {"exit": 5}))) == Exited(5)
    assert final(ex, ex.submit(scripted("again", {}))) == Exited(0)


@pytest.mark.parametrize("job_id", ["", "a/b", "..", "."])
def test_bad_job_ids_are_refused(rig: ExecutorRig, job_id: str) -> None:
    with pytest.raises(SubmitFailed):
        local(rig).submit(Launch(job_id=job_id))


def test_secrets_too_large_for_the_pipe_are_refused(rig: ExecutorRig) -> None:
    with pytest.raises(SubmitFailed, match="too large"):
        local(rig).submit(Launch(job_id="big", secrets={"VATTI_X": "x" * 100_000}))
