"""The local executor against real processes: status, limits, stopping, restarts, environment."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from vatti.executors import processes
from vatti.executors.base import ExecStatus, Exited, Limits, Running, Vanished
from vatti.executors.errors import BadHandle, SubmitFailed
from vatti.executors.local import TIMEOUT_EXIT, LocalExecutor
from vatti.executors.local_handle import LocalHandle

pytestmark = pytest.mark.integration

WAIT_S = 30.0
STEP_S = 0.01
NO_LIMITS = Limits()


def wait_until(what: str, done: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(STEP_S)


def finished(executor: LocalExecutor, handle: str) -> ExecStatus:
    """Poll until the job is no longer running; its final status."""
    status: list[ExecStatus] = []

    def done() -> bool:
        status[:] = [executor.poll(handle)]
        return not isinstance(status[0], Running)

    wait_until("the job to end", done)
    return status[0]


def pid_gone(pid: int) -> bool:
    """Gone, or a zombie (dead, waiting for a parent that may be init in a container)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def read_pid(path: Path) -> int:
    wait_until(f"{path.name} to be written", path.is_file)
    return int(path.read_text())


def with_child(tmp: Path, *, ignore_term: bool = False) -> list[str]:
    """A job that forks ``sleep`` (its pid in ``child.pid``, written atomically), then waits."""
    trap = "trap '' TERM; " if ignore_term else ""
    script = (
        f"{trap}sleep 1000 & echo $! > {tmp}/child.tmp; mv {tmp}/child.tmp {tmp}/child.pid; wait"
    )
    return ["sh", "-c", script]


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[LocalExecutor]:
    ex = LocalExecutor(tmp_path / "data", timeout_grace_s=2.0)
    yield ex
    # kill whatever a failed test left behind
    for run in (tmp_path / "data" / "runs").glob("*"):
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = proc.info["cmdline"] or []
            if str(run) in cmdline:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)


def test_exit_code_and_log(executor: LocalExecutor) -> None:
    handle = executor.submit("j1", ["sh", "-c", "echo out; echo err >&2; exit 7"], {}, NO_LIMITS)
    assert finished(executor, handle) == Exited(7)
    log = executor.log_path("j1").read_text()
    assert "out\n" in log
    assert "err\n" in log


def test_success_is_exit_zero(executor: LocalExecutor) -> None:
    handle = executor.submit("ok", ["true"], {}, NO_LIMITS)
    assert finished(executor, handle) == Exited(0)


def test_death_by_signal_is_128_plus_n(executor: LocalExecutor) -> None:
    handle = executor.submit("sig", ["sh", "-c", "kill -USR1 $$"], {}, NO_LIMITS)
    status = finished(executor, handle)
    assert isinstance(status, Exited)
    assert status.code == 128 + signal.SIGUSR1
    assert status.reason is not None
    assert "SIGUSR1" in status.reason


def test_missing_program_exits_127(executor: LocalExecutor) -> None:
    handle = executor.submit("nope", ["/nonexistent/program"], {}, NO_LIMITS)
    status = finished(executor, handle)
    assert isinstance(status, Exited)
    assert status.code == 127
    assert status.reason is not None
    assert "/nonexistent/program" in status.reason


def test_memory_limit_stops_a_big_allocation(executor: LocalExecutor) -> None:
    grab = [sys.executable, "-c", "b = bytearray(1 << 30); print('allocated', len(b))"]
    limited = executor.submit("small", grab, {}, Limits(memory_mb=128))
    unlimited = executor.submit("big", grab, {}, NO_LIMITS)
    status = finished(executor, limited)
    assert isinstance(status, Exited)
    assert status.code != 0
    assert "MemoryError" in executor.log_path("small").read_text()
    # the same program runs without the limit: the limit, not the program, made it fail
    assert finished(executor, unlimited) == Exited(0)
    assert "allocated" in executor.log_path("big").read_text()


def test_wall_time_exits_124_and_stops_the_group(executor: LocalExecutor, tmp_path: Path) -> None:
    handle = executor.submit("slow", with_child(tmp_path), {}, Limits(wall_time_s=1))
    child = read_pid(tmp_path / "child.pid")
    started = time.monotonic()
    status = finished(executor, handle)
    assert isinstance(status, Exited)
    assert status.code == TIMEOUT_EXIT
    assert time.monotonic() - started < 1 + executor.timeout_grace_s + 5
    assert pid_gone(child)
    assert not processes.group_alive(LocalHandle.loads(handle))
    assert executor.poll(handle) == status  # recorded: later polls agree


@pytest.mark.parametrize("ignore_term", [False, True], ids=["polite", "stubborn"])
def test_terminate_kills_the_whole_group_within_the_grace(
    executor: LocalExecutor, tmp_path: Path, ignore_term: bool
) -> None:
    # sh -> sh -> sleep: the sleep is a grandchild of the wrapper, in the same group
    trap = "trap '' TERM; " if ignore_term else ""
    argv = ["sh", "-c", f'{trap}sh -c "$0" & wait', with_child(tmp_path)[2]]
    handle = executor.submit("tree", argv, {}, NO_LIMITS)
    grandchild = read_pid(tmp_path / "child.pid")
    assert isinstance(executor.poll(handle), Running)

    grace = 1.0
    started = time.monotonic()
    executor.terminate(handle, grace)
    took = time.monotonic() - started

    assert pid_gone(grandchild)
    assert not processes.group_alive(LocalHandle.loads(handle))
    if ignore_term:
        assert grace <= took < grace + 5  # forced with SIGKILL once the grace ran out
        assert isinstance(executor.poll(handle), Vanished)  # the wrapper was killed too
    else:
        assert took < grace
        assert executor.poll(handle) == Exited(128 + signal.SIGTERM, "killed by signal SIGTERM")
    executor.terminate(handle, grace)  # idempotent


def submit_from_another_process(data_dir: Path, job_id: str, argv: list[str]) -> str:
    """Submit through a short-lived process, so that the wrapper outlives its parent."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from vatti.executors.base import Limits\n"
        "from vatti.executors.local import LocalExecutor\n"
        "data, job, argv = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])\n"
        "print(LocalExecutor(data).submit(job, argv, {}, Limits()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(data_dir), job_id, json.dumps(argv)],
        check=True,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    return done.stdout.strip()


def test_a_new_executor_polls_and_stops_a_job_from_its_handle(tmp_path: Path) -> None:
    data = tmp_path / "data"
    handle = submit_from_another_process(data, "orphan", with_child(tmp_path))
    child = read_pid(tmp_path / "child.pid")
    wrapper = psutil.Process(LocalHandle.loads(handle).pid)
    assert wrapper.ppid() != os.getpid()  # not our child: as after a server restart

    restarted = LocalExecutor(data)
    assert isinstance(restarted.poll(handle), Running)
    restarted.terminate(handle, 5.0)
    assert pid_gone(child)
    assert restarted.poll(handle) == Exited(128 + signal.SIGTERM, "killed by signal SIGTERM")
    restarted.cleanup(handle)
    assert not (data / "runs" / "orphan" / "exit.json").exists()


def test_a_new_executor_reads_the_exit_of_a_job_that_ended_meanwhile(tmp_path: Path) -> None:
    data = tmp_path / "data"
    handle = submit_from_another_process(data, "done", ["sh", "-c", "exit 3"])
    restarted = LocalExecutor(data)
    assert finished(restarted, handle) == Exited(3)


def test_killed_wrapper_is_vanished_and_cleanup_stops_the_rest(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    handle = executor.submit("lost", with_child(tmp_path), {}, NO_LIMITS)
    child = read_pid(tmp_path / "child.pid")
    h = LocalHandle.loads(handle)
    os.kill(h.pid, signal.SIGKILL)
    status = finished(executor, handle)
    assert isinstance(status, Vanished)
    assert str(h.pid) in status.reason
    assert not pid_gone(child)  # the job itself lives on, orphaned, until cleanup
    executor.cleanup(handle)
    assert pid_gone(child)
    assert not processes.group_alive(h)


def test_cleanup_is_idempotent_and_keeps_the_log(executor: LocalExecutor) -> None:
    handle = executor.submit("c", ["sh", "-c", "echo bye"], {}, NO_LIMITS)
    assert finished(executor, handle) == Exited(0)
    run_dir = executor.run_dir("c")
    assert (run_dir / "exit.json").is_file()
    executor.cleanup(handle)
    executor.cleanup(handle)
    assert not (run_dir / "exit.json").exists()
    assert executor.log_path("c").read_text() == "bye\n"
    executor.delete_run("c")
    executor.delete_run("c")
    assert not run_dir.exists()


def test_run_records_are_listed_by_job_id(executor: LocalExecutor) -> None:
    job_id = "01a23361-d4e5-7667-a0c5-e61372d70527"
    handle = executor.submit(job_id, ["true"], {}, NO_LIMITS)
    assert finished(executor, handle) == Exited(0)
    (executor.run_dir("x").parent / "not-a-job").mkdir()
    assert executor.run_ids() == [job_id]
    executor.delete_run(job_id)
    assert executor.run_ids() == []


def test_cleanup_of_a_running_job_kills_it(executor: LocalExecutor, tmp_path: Path) -> None:
    handle = executor.submit("r", with_child(tmp_path), {}, NO_LIMITS)
    child = read_pid(tmp_path / "child.pid")
    executor.cleanup(handle)
    assert pid_gone(child)
    assert not processes.group_alive(LocalHandle.loads(handle))


def test_job_does_not_inherit_server_secrets(
    executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VATTI_WEBHOOK_SECRET", "hush-hush-1234")
    monkeypatch.setenv("VATTI_DATABASE_URL", "postgresql://u:pw-5678@db/x")
    dump = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]
    handle = executor.submit("env", dump, {"VATTI_JOB_THING": "given"}, NO_LIMITS)
    assert finished(executor, handle) == Exited(0)
    log = executor.log_path("env").read_text()
    env = json.loads(log)
    assert env["VATTI_JOB_THING"] == "given"
    assert env["PATH"] == os.environ["PATH"]
    assert "VATTI_WEBHOOK_SECRET" not in env
    assert "VATTI_DATABASE_URL" not in env
    assert "hush-hush-1234" not in log
    assert "pw-5678" not in log


def test_resubmitting_a_job_forgets_the_earlier_exit(executor: LocalExecutor) -> None:
    first = executor.submit("again", ["sh", "-c", "exit 5"], {}, NO_LIMITS)
    assert finished(executor, first) == Exited(5)
    second = executor.submit("again", ["true"], {}, NO_LIMITS)
    assert finished(executor, second) == Exited(0)


@pytest.mark.parametrize("job_id", ["", "a/b", "..", "."])
def test_bad_job_ids_are_refused(executor: LocalExecutor, job_id: str) -> None:
    with pytest.raises(SubmitFailed):
        executor.submit(job_id, ["true"], {}, NO_LIMITS)


def test_empty_command_is_refused(executor: LocalExecutor) -> None:
    with pytest.raises(SubmitFailed):
        executor.submit("empty", [], {}, NO_LIMITS)


@pytest.mark.parametrize("handle", ["", "{}", '{"executor": "k8s", "v": 1}', "[1]"])
def test_foreign_handles_are_refused(executor: LocalExecutor, handle: str) -> None:
    with pytest.raises(BadHandle):
        executor.poll(handle)
