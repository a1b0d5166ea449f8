"""The executor contract: what every executor must do, as a test suite any executor runs.

A test module of an executor subclasses :class:`ExecutorContract` and defines the ``rig``
fixture, returning an :class:`ExecutorRig` for the executor under test, built to run
:data:`vatti.testing.job_scripts.ENTRY` as each job's entry point (the real job runtime unless the
launch's ``VATTI_TEST_JOB`` scripts the job)::

    class TestLocalExecutor(ExecutorContract):
        @pytest.fixture
        def rig(self, tmp_path: Path) -> Iterator[ExecutorRig]: ...

The suite covers submit → pending/running → exited with the runtime's real exit, non-zero
exits, termination within the grace (and SIGKILL after it), cleanup (idempotent, deletes the
scratch), polling from the handle alone after a restart, following a running job's log and
reading a finished one, the memory limit, the secrets' delivery and invisibility, the
executor's own wall-time limit (vatti's deadline plus a margin), and, when the service runs as
root, the isolation of a job's command (its own uid: it cannot read the database, another
running job's scratch, or the environment of the service or of its runtime; nothing of it
outlives the job).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets as random_secrets
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vatti.executors.base import (
    WALL_TIME,
    ExecStatus,
    Executor,
    Exited,
    Launch,
    Limits,
    Pending,
    Running,
)
from vatti.executors.errors import BadHandle
from vatti.isolation.hardening import jobs_get_own_uids, private_data_dir, unreachable_ancestor
from vatti.staging.areas import ObjectOutcomes, ObjectWorkAreas
from vatti.staging.objects import ObjectStore
from vatti.testing.job_scripts import TEST_JOB_VAR

WAIT_S = 60.0
#: the runtime setting that lets a job run a raw argv (the contract's scripted failures)
RAW_ARGV = "VATTI_ALLOW_RAW_ARGV"
STEP_S = 0.01


@dataclass
class ExecutorRig:
    """The executor under test and what the suite needs around it.

    ``new_executor`` builds an executor over the same state (as a restarted engine would);
    ``env`` is the runtime's settings for real runtime jobs, whose work areas live in the object
    store at ``objects_url``; ``shared_dir`` is a directory the tests and the jobs both see;
    ``wall_time_margin_s`` is the margin the executor adds to vatti's wall time (keep it small
    for the tests); ``local_processes``: the jobs run on this machine (``/proc`` is checked);
    ``data_dir``: the data dir of the machine the jobs run on (their scratch root is its
    ``scratch``), whose parents others may traverse (:func:`data_dir_for_jobs`);
    ``service_pids``: the service's processes beside this one (a worker's), whose environment a
    job must not read.
    """

    new_executor: Callable[[], Executor]
    objects_url: str
    env: Mapping[str, str]
    shared_dir: Path
    wall_time_margin_s: float
    local_processes: bool = True
    data_dir: Path | None = None
    service_pids: tuple[int, ...] = ()
    executors: list[Executor] = field(default_factory=list)

    def executor(self) -> Executor:
        """The executor of this test (the first one built)."""
        if not self.executors:
            self.executors.append(self.new_executor())
        return self.executors[0]


def wait_until(what: str, done: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(STEP_S)


def follow(executor: Executor, handle: str, timeout_s: float = WAIT_S) -> list[ExecStatus]:
    """Poll until the job ended; every distinct status seen, in order (the last is final)."""
    seen: list[ExecStatus] = []

    def done() -> bool:
        status = executor.poll(handle)
        if not seen or seen[-1] != status:
            seen.append(status)
        return not isinstance(status, Pending | Running)

    wait_until("the job to end", done, timeout_s)
    return seen


def final(executor: Executor, handle: str, timeout_s: float = WAIT_S) -> ExecStatus:
    return follow(executor, handle, timeout_s)[-1]


def whole_log(executor: Executor, handle: str) -> bytes:
    data, offset = b"", 0
    while (chunk := executor.read_log(handle, offset)) is not None and chunk.data:
        data, offset = data + chunk.data, chunk.next_offset
    return data


def wait_for_log(executor: Executor, handle: str, pattern: str) -> re.Match[bytes]:
    """Wait until the job's log matches ``pattern``; the match."""
    found: list[re.Match[bytes]] = []

    def done() -> bool:
        match = re.search(pattern.encode(), whole_log(executor, handle))
        if match is not None:
            found.append(match)
        return match is not None

    wait_until(f"{pattern!r} in the job log", done)
    return found[0]


def scripted(job_id: str, script: Mapping[str, Any], **launch: Any) -> Launch:
    env = {**launch.pop("env", {}), TEST_JOB_VAR: json.dumps(dict(script))}
    return Launch(job_id=job_id, env=env, **launch)


def pid_gone(pid: int) -> bool:
    """Gone, or a zombie (dead, waiting for a parent that may be init in a container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rpartition(")")[2].split()[0] in {"Z", "X"}


@contextlib.contextmanager
def data_dir_for_jobs() -> Iterator[Path]:
    """A fresh data dir in the system's temporary dir, deleted afterwards.

    Not under pytest's temporary dirs: their root is 0700 (and made so again by every pytest
    session that starts), so a job under its own uid could not reach its scratch by its path,
    and a read it is refused would not be refused by vatti's modes. The parents of this one are
    traversable, as those of a real data dir are.
    """
    path = Path(tempfile.mkdtemp(prefix="vatti-data-"))
    try:
        blocked = unreachable_ancestor(path)
        assert blocked is None, f"jobs cannot pass through {blocked} to {path}"
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def shared_with_jobs() -> Iterator[Path]:
    """A fresh directory (deleted afterwards) that tests and jobs' commands, under any uid, may
    read and write (1777, as ``/tmp``): where a test and a job signal each other."""
    with data_dir_for_jobs() as path:
        os.chmod(path, 0o1777)  # noqa: S103 -- a test-only exchange, sticky as /tmp
        yield path


def python_for_jobs() -> str:
    """A Python interpreter a job's command may run under its own uid: this one when others may
    reach and run it (a virtualenv's link counts by its target), else the system's ``python3``.
    The command gets the standard library only."""
    candidates = [sys.executable, shutil.which("python3"), "/usr/bin/python3"]
    for candidate in (c for c in candidates if c):
        target = Path(candidate).resolve()
        runnable = target.is_file() and target.stat().st_mode & stat.S_IXOTH
        if runnable and unreachable_ancestor(target) is None:
            return str(target) if target != Path(sys.executable).resolve() else sys.executable
    raise AssertionError(f"no Python that others may run among {candidates}")


#: A job's command (``sh -c PROBE probe PATH...``, plain sh: any uid can run it) that tries to
#: read what it must not and says what each attempt gave: ``probe uid=U gid=G groups=G...``,
#: ``probe parent=PID uid=U`` (its runtime, from the world-readable ``/proc/PID/status``), then
#: ``probe read PATH ok`` or ``probe read PATH denied: ERROR`` for each PATH (a directory is
#: listed, anything else read; ``runtime`` stands for ``/proc/<parent>/environ``), after two
#: reads that must work: a file it writes in its work dir, read back by its absolute path (so
#: the paths resolve through the data dir and the scratch root), and ``/proc/self/environ``.
PROBE = r"""
echo "probe uid=$(id -u) gid=$(id -g) groups=$(id -G | tr ' ' ,)"
parent=$PPID
echo "probe parent=$parent uid=$(awk '/^Uid:/ {print $2}' /proc/$parent/status)"
echo mine > mine.txt
for target in "$PWD/mine.txt" /proc/self/environ "$@"; do
    if [ "$target" = runtime ]; then target=/proc/$parent/environ; fi
    if [ -d "$target" ]; then error=$(ls "$target" 2>&1 >/dev/null)
    else error=$(cat "$target" 2>&1 >/dev/null); fi
    if [ -z "$error" ]; then echo "probe read $target ok"
    else echo "probe read $target denied: ${error##*: }"; fi
done
"""


def probe_lines(log: bytes) -> dict[str, str]:
    """The ``probe read PATH RESULT`` lines of :data:`PROBE`, by path."""
    found = re.findall(rb"^probe read (\S+) (ok|denied: .*)$", log, re.MULTILINE)
    return {path.decode(): result.decode() for path, result in found}


def new_job_id() -> str:
    return f"contract-{random_secrets.token_hex(6)}"


class ExecutorContract:
    """The tests; subclass it and define the ``rig`` fixture (see the module documentation)."""

    # -- the runtime's real exit ------------------------------------------------------------

    def provision(self, rig: ExecutorRig, job_id: str, params: Mapping[str, Any]) -> None:
        areas = ObjectWorkAreas(ObjectStore.from_url(rig.objects_url))
        spec = {"job_id": job_id, "pipeline": "command", "params": dict(params), "resources": {}}
        areas.provision(job_id, spec)

    def test_a_runtime_job_goes_pending_or_running_then_exits_zero(self, rig: ExecutorRig) -> None:
        ex, job_id = rig.executor(), new_job_id()
        self.provision(rig, job_id, {"command": "hello", "args": {"name": "contract"}})
        handle = ex.submit(Launch(job_id=job_id, env=dict(rig.env)))
        seen = follow(ex, handle)
        order = [type(s) for s in seen]
        assert order[-1] is Exited, seen
        assert order == sorted(order, key=[Pending, Running, Exited].index), seen
        assert seen[-1] == Exited(0), whole_log(ex, handle)
        outcome = ObjectOutcomes(ObjectStore.from_url(rig.objects_url)).read(job_id)
        assert outcome is not None
        assert outcome.ok
        assert list(outcome.outputs) == ["hello.txt"]

    def test_a_failing_runtime_job_exits_non_zero(self, rig: ExecutorRig) -> None:
        ex, job_id = rig.executor(), new_job_id()
        self.provision(rig, job_id, {"argv": ["sh", "-c", "exit 3"]})
        env = {**rig.env, RAW_ARGV: "1"}  # a script of the test's own
        handle = ex.submit(Launch(job_id=job_id, env=env))
        status = final(ex, handle)
        assert isinstance(status, Exited)
        assert status.code != 0
        outcome = ObjectOutcomes(ObjectStore.from_url(rig.objects_url)).read(job_id)
        assert outcome is not None
        assert outcome.failure is not None
        assert outcome.failure.exit_code == 3

    def test_the_exit_status_is_the_jobs(self, rig: ExecutorRig) -> None:
        ex = rig.executor()
        handle = ex.submit(scripted(new_job_id(), {"exit": 7}))
        status = final(ex, handle)
        assert isinstance(status, Exited)
        assert (status.code, status.limit) == (7, None)
        assert ex.poll(handle) == status  # recorded: later polls agree

    # -- stopping -----------------------------------------------------------------------------

    def test_terminate_stops_the_job_and_its_children_within_the_grace(
        self, rig: ExecutorRig
    ) -> None:
        ex = rig.executor()
        handle = ex.submit(scripted(new_job_id(), {"pid": True, "child": True, "sleep": 1000}))
        match = wait_for_log(ex, handle, r"pid=(\d+)\nchild=(\d+)\n")
        assert isinstance(ex.poll(handle), Running)
        ex.terminate(handle, 10.0)
        status = ex.poll(handle)
        assert isinstance(status, Exited)
        assert status.code != 0
        if rig.local_processes:
            assert pid_gone(int(match[1]))
            assert pid_gone(int(match[2]))
        ex.terminate(handle, 10.0)  # idempotent

    def test_terminate_kills_a_job_that_ignores_sigterm_after_the_grace(
        self, rig: ExecutorRig
    ) -> None:
        ex = rig.executor()
        script = {"ignore_term": True, "pid": True, "sleep": 1000}
        handle = ex.submit(scripted(new_job_id(), script))
        match = wait_for_log(ex, handle, r"pid=(\d+)\n")
        ex.terminate(handle, 0.5)
        status = ex.poll(handle)
        assert not isinstance(status, Pending | Running)
        if isinstance(status, Exited):
            assert status.code == 128 + 9, status
        if rig.local_processes:
            assert pid_gone(int(match[1]))

    def test_cleanup_deletes_the_scratch_keeps_the_log_and_is_idempotent(
        self, rig: ExecutorRig
    ) -> None:
        ex = rig.executor()
        handle = ex.submit(scripted(new_job_id(), {"scratch": True, "print": "bye"}))
        assert final(ex, handle) == Exited(0)
        scratch = Path(wait_for_log(ex, handle, r"scratch=(\S+)\n")[1].decode())
        assert (scratch / "left-behind.txt").is_file()
        ex.cleanup(handle)
        assert not scratch.exists()
        ex.cleanup(handle)
        assert b"bye\n" in whole_log(ex, handle)

    def test_cleanup_of_a_running_job_stops_it(self, rig: ExecutorRig) -> None:
        ex = rig.executor()
        handle = ex.submit(scripted(new_job_id(), {"pid": True, "sleep": 1000}))
        pid = int(wait_for_log(ex, handle, r"pid=(\d+)\n")[1])
        ex.cleanup(handle)
        assert not isinstance(ex.poll(handle), Pending | Running)
        if rig.local_processes:
            assert pid_gone(pid)

    # -- restarts -------------------------------------------------------------------------------

    def test_a_new_executor_polls_and_stops_a_job_from_its_handle(self, rig: ExecutorRig) -> None:
        handle = rig.executor().submit(scripted(new_job_id(), {"pid": True, "sleep": 1000}))
        pid = int(wait_for_log(rig.executor(), handle, r"pid=(\d+)\n")[1])
        restarted = rig.new_executor()
        rig.executors.append(restarted)
        assert isinstance(restarted.poll(handle), Running)
        restarted.terminate(handle, 10.0)
        assert isinstance(restarted.poll(handle), Exited)
        if rig.local_processes:
            assert pid_gone(pid)
        restarted.cleanup(handle)

    def test_a_new_executor_reads_the_exit_of_a_job_that_ended_meanwhile(
        self, rig: ExecutorRig
    ) -> None:
        go = rig.shared_dir / f"go-{random_secrets.token_hex(4)}"
        handle = rig.executor().submit(scripted(new_job_id(), {"wait_for": str(go), "exit": 5}))
        restarted = rig.new_executor()
        rig.executors.append(restarted)
        go.touch()
        assert final(restarted, handle) == Exited(5)

    # -- logs -----------------------------------------------------------------------------------

    def test_read_log_follows_a_running_job_and_reads_a_finished_one(
        self, rig: ExecutorRig
    ) -> None:
        ex = rig.executor()
        go = rig.shared_dir / f"go-{random_secrets.token_hex(4)}"
        handle = ex.submit(scripted(new_job_id(), {"print": "first line", "wait_for": str(go)}))
        wait_for_log(ex, handle, r"first line\n")
        assert isinstance(ex.poll(handle), Running)
        head = ex.read_log(handle, 0, 5)
        assert head is not None
        assert (head.data, head.next_offset) == (b"first", 5)
        so_far = ex.read_log(handle, 0)
        assert so_far is not None
        assert so_far.data == b"first line\n"
        go.touch()
        assert final(ex, handle) == Exited(0)
        rest = ex.read_log(handle, so_far.next_offset)
        assert rest is not None
        assert rest.data == b"go\n"
        end = ex.read_log(handle, rest.next_offset)
        assert end is not None
        assert (end.data, end.next_offset) == (b"", rest.next_offset)

    # -- limits ---------------------------------------------------------------------------------

    def test_the_memory_limit_stops_a_big_allocation_not_a_small_one(
        self, rig: ExecutorRig
    ) -> None:
        ex = rig.executor()
        limits = Limits(memory_mb=512)
        small = ex.submit(scripted(new_job_id(), {"allocate_mb": 16}, limits=limits))
        big = ex.submit(scripted(new_job_id(), {"allocate_mb": 4096}, limits=limits))
        assert final(ex, small) == Exited(0), whole_log(ex, small)
        status = final(ex, big)
        assert isinstance(status, Exited)
        assert status.code != 0
        assert b"allocated" not in whole_log(ex, big)

    def test_the_executors_own_wall_time_limit_is_the_deadline_plus_its_margin(
        self, rig: ExecutorRig
    ) -> None:
        ex, wall = rig.executor(), 1
        started = time.monotonic()
        handle = ex.submit(scripted(new_job_id(), {"sleep": 1000}, limits=Limits(wall_time_s=wall)))
        status = final(ex, handle, timeout_s=wall + rig.wall_time_margin_s + WAIT_S)
        assert time.monotonic() - started >= wall + rig.wall_time_margin_s
        assert isinstance(status, Exited), status
        assert status.limit == WALL_TIME, status

    # -- secrets --------------------------------------------------------------------------------

    def test_secrets_reach_the_job_and_nothing_else(self, rig: ExecutorRig) -> None:
        ex = rig.executor()
        secret = f"s3cret-{random_secrets.token_hex(8)}"
        go = rig.shared_dir / f"go-{random_secrets.token_hex(4)}"
        script = {"secrets": True, "pid": True, "wait_for": str(go)}
        launch = scripted(new_job_id(), script, secrets={"VATTI_TEST_SECRET": secret})
        assert secret not in repr(launch)
        handle = ex.submit(launch)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        wait_for_log(ex, handle, rf"secret VATTI_TEST_SECRET sha256={digest}\n")
        pid = int(wait_for_log(ex, handle, r"pid=(\d+)\n")[1])
        if rig.local_processes:
            for name in ("cmdline", "environ"):
                with contextlib.suppress(FileNotFoundError):
                    seen = Path(f"/proc/{pid}/{name}").read_bytes()
                    assert secret.encode() not in seen, name
        go.touch()
        assert final(ex, handle) == Exited(0)
        assert secret not in handle
        assert secret.encode() not in whole_log(ex, handle)

    # -- isolation (the service runs as root) ------------------------------------------------

    def isolated_rig(self, rig: ExecutorRig) -> Path:
        if not jobs_get_own_uids():
            pytest.skip("jobs run under a uid of their own only when the service runs as root")
        assert rig.data_dir is not None, "the rig must name the data dir its jobs run in"
        assert rig.local_processes, "the isolation tests look at the jobs' files and processes"
        private_data_dir(rig.data_dir, rig.data_dir / "scratch")
        return rig.data_dir

    def test_a_jobs_command_cannot_read_the_database_another_job_or_the_services_environ(
        self, rig: ExecutorRig
    ) -> None:
        data_dir = self.isolated_rig(rig)
        from vatti.store.connect import create_db_engine, sqlite_url

        database = data_dir / "vatti.db"
        engine = create_db_engine(sqlite_url(data_dir))
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (secret TEXT)")
        engine.dispose()
        ex = rig.executor()
        neighbour = new_job_id()
        raw_env = {**rig.env, RAW_ARGV: "1"}  # the probes are scripts of the test's own
        hold = (
            "echo neighbour-secret > secret.txt && mkfifo hold && "
            'echo "ready $(id -u) $PWD" && cat hold > /dev/null'
        )
        self.provision(rig, neighbour, {"argv": ["sh", "-c", hold], "outputs": []})
        neighbour_handle = ex.submit(Launch(job_id=neighbour, env=raw_env))
        ready = wait_for_log(ex, neighbour_handle, r"ready (\d+) (\S+)\n")
        neighbour_uid, neighbour_work = int(ready[1]), Path(ready[2].decode())
        owner = neighbour_work.stat()
        assert (owner.st_uid, stat.S_IMODE(owner.st_mode)) == (neighbour_uid, 0o700)
        scratch_root = neighbour_work.parent.parent
        targets = [
            str(database),
            str(neighbour_work / "secret.txt"),
            str(neighbour_work),
            str(scratch_root),
            str(data_dir),
            *(f"/proc/{pid}/environ" for pid in (os.getpid(), *rig.service_pids)),
            "runtime",
        ]
        probe = new_job_id()
        self.provision(rig, probe, {"argv": ["sh", "-c", PROBE, "probe", *targets], "outputs": []})
        probe_handle = ex.submit(Launch(job_id=probe, env=raw_env))
        assert final(ex, probe_handle) == Exited(0), whole_log(ex, probe_handle)
        (neighbour_work / "hold").write_text("")  # the neighbour ends once the probe has
        assert final(ex, neighbour_handle) == Exited(0), whole_log(ex, neighbour_handle)
        log = whole_log(ex, probe_handle)
        who = re.search(rb"^probe uid=(\d+) gid=(\d+) groups=(\S*)$", log, re.MULTILINE)
        parent = re.search(rb"^probe parent=(\d+) uid=(\d+)$", log, re.MULTILINE)
        assert who is not None, log
        assert parent is not None, log
        uid = int(who[1])
        assert uid not in (0, os.geteuid(), neighbour_uid), log
        assert (int(who[2]), who[3]) == (uid, str(uid).encode()), log  # its own group only
        assert int(parent[2]) == os.geteuid()  # its runtime keeps the service's uid
        reads = probe_lines(log)
        assert reads.pop("/proc/self/environ") == "ok", log
        assert [r for p, r in reads.items() if p.endswith("/mine.txt")] == ["ok"], log
        runtime_environ = f"/proc/{int(parent[1])}/environ"
        expected = [*targets[:-1], runtime_environ]
        denied = "denied: Permission denied"
        assert {p: reads.get(p) for p in expected} == dict.fromkeys(expected, denied), log
        assert not neighbour_work.exists()  # the runtime removed the scratch of another uid

    def test_nothing_of_a_jobs_command_outlives_the_job(self, rig: ExecutorRig) -> None:
        self.isolated_rig(rig)
        ex, job_id = rig.executor(), new_job_id()
        # out of the job's process group and session: only its uid gives it away
        script = 'setsid sleep 1000 & echo "background $!"'
        raw_env = {**rig.env, RAW_ARGV: "1"}
        self.provision(rig, job_id, {"argv": ["sh", "-c", script], "outputs": []})
        handle = ex.submit(Launch(job_id=job_id, env=raw_env))
        assert final(ex, handle) == Exited(0), whole_log(ex, handle)
        log = whole_log(ex, handle)
        background = re.search(rb"^background (\d+)$", log, re.MULTILINE)
        assert background is not None, log
        assert pid_gone(int(background[1]))
        ex.cleanup(handle)

    # -- handles --------------------------------------------------------------------------------

    @pytest.mark.parametrize("handle", ["", "{}", "[1]", '{"executor": "elsewhere"}'])
    def test_foreign_handles_are_refused(self, rig: ExecutorRig, handle: str) -> None:
        with pytest.raises(BadHandle):
            rig.executor().poll(handle)


@contextlib.contextmanager
def closing_all(rig: ExecutorRig) -> Iterator[ExecutorRig]:
    """Close every executor the test built (those that hold resources) when it ends."""
    try:
        yield rig
    finally:
        for executor in rig.executors:
            close = getattr(executor, "close", None)
            if callable(close):
                close()
