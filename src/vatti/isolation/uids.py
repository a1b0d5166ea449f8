"""The uids jobs run under: a configured range, and leases on them held by lock files.

Each running job holds one uid of ``VATTI_JOB_UID_RANGE`` (gid = uid, a private group) for as
long as its runtime lives: the lease is an exclusive ``flock`` on ``/run/vatti/job-uids/<uid>``
(:data:`LEASE_DIR`: one place per machine, whatever the data dir), taken without waiting. The
kernel drops the lock when the runtime's process ends, however it ends (SIGKILL included), so a
crashed runtime never leaks a uid, and any number of services, engines, workers and launchers
on one machine never hand out the same uid twice: there is no database round trip (the runtime
has no database access anyway) and nothing to expire. Before a leased uid is used, what is left
of an earlier job under it (a process that escaped its group when its runtime was killed) is
killed.

A uid that has an entry in the user or group database, or lies in a range of ``/etc/subuid`` or
``/etc/subgid`` (the uids of someone's rootless containers), is never leased.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vatti.isolation.errors import NoJobUid, StrayProcesses
from vatti.isolation.uid_range import UidRange

SUBORDINATE_FILES = (Path("/etc/subuid"), Path("/etc/subgid"))
#: where the leases live: one place per machine (a tmpfs, root's), shared by every vatti process
#: on it whatever its data dir, so two services never lease one uid twice
LEASE_DIR = Path("/run/vatti/job-uids")
#: kill(-1) rounds before giving up on a job's leftovers (a fork bomb may race one round)
KILL_ROUNDS = 20
#: run as the job's uid: the shell's ``kill`` calls kill(-1, SIGKILL) (every process of the
#: uid but the shell); /bin/sh is on every POSIX system and any uid may run it
KILL_ALL = ("/bin/sh", "-c", "kill -9 -1")


@dataclass(frozen=True)
class JobUser:
    """The unprivileged uid and gid one job's commands run as."""

    uid: int
    gid: int


def subordinate_ranges(files: tuple[Path, ...] = SUBORDINATE_FILES) -> list[tuple[int, int]]:
    """The ``(first, last)`` ranges of ``/etc/subuid`` and ``/etc/subgid`` lines
    (``name:first:count``); unreadable files and bad lines count for nothing."""
    ranges = []
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                first = int(parts[1])
                ranges.append((first, first + int(parts[2]) - 1))
    return ranges


def is_reserved(uid: int, subordinate: list[tuple[int, int]]) -> bool:
    """Whether ``uid`` (or the same gid) is a known user, group or subordinate id."""
    if any(first <= uid <= last for first, last in subordinate):
        return True
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
        except KeyError:
            continue
        return True
    return False


def processes_of(uid: int, proc: Path = Path("/proc")) -> list[int]:
    """The pids of the live (not zombie) processes whose real, effective or saved uid is ``uid``.

    Read from each ``/proc/PID/status`` (its ``Uid:`` line is the truth; the owner of
    ``/proc/PID`` is root for a process that made itself undumpable).
    """
    found = []
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/status", "rb") as fh:
                status = fh.read(2048)
        except OSError:
            continue  # gone meanwhile
        status = status[status.find(b"\n") :]  # past Name:, which the process chooses
        state = _field(status, b"State:")
        uids = _field(status, b"Uid:").split()
        if state[:1] != b"Z" and str(uid).encode() in uids[:3]:
            found.append(int(entry.name))
    return found


def _field(status: bytes, name: bytes) -> bytes:
    start = status.find(b"\n" + name)
    if start < 0:
        return b""
    start += len(name) + 1
    end = status.find(b"\n", start)
    return status[start : end if end >= 0 else len(status)].strip()


def kill_processes_of(user: JobUser) -> None:
    """SIGKILL every process running as ``user`` (escapees of the job's group included).

    A process of that uid calls ``kill(-1, SIGKILL)``, which the kernel delivers to every
    process the caller may signal: those of the same uid, and only those.
    """
    if user.uid == 0 or user.gid == 0:
        raise StrayProcesses("refusing to kill every process of uid or gid 0")
    for _ in range(KILL_ROUNDS):
        if not processes_of(user.uid):
            return
        try:
            subprocess.run(
                KILL_ALL,
                user=user.uid,
                group=user.gid,
                extra_groups=[],
                env={},
                cwd="/",
                stdin=subprocess.DEVNULL,
                close_fds=True,
                check=False,
            )
        except OSError as exc:
            raise StrayProcesses(
                f"cannot stop the processes of job uid {user.uid}: {exc}"
            ) from None
    left = processes_of(user.uid)
    if left:
        raise StrayProcesses(f"processes of job uid {user.uid} survive SIGKILL: {left[:10]}")


@dataclass(frozen=True)
class UidLeases:
    """Leases on the uids of ``uids``, as lock files in ``lock_dir`` (0700, root's)."""

    uids: UidRange
    lock_dir: Path = LEASE_DIR

    @contextlib.contextmanager
    def lease(self, job_id: str) -> Iterator[JobUser]:
        """Hold a free uid for the block; its processes are killed before and after."""
        self.lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.lock_dir, 0o700)
        subordinate = subordinate_ranges()
        for uid in self.uids.starting_at(job_id):
            if is_reserved(uid, subordinate):
                continue
            fd = os.open(self.lock_dir / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            user = JobUser(uid, uid)
            try:
                kill_processes_of(user)  # an earlier job's, whose runtime was killed
            except StrayProcesses:
                os.close(fd)
                continue  # they hold on: this uid is not clean, take another
            try:
                yield user
                kill_processes_of(user)
            finally:
                os.close(fd)  # releases the lock
            return
        raise NoJobUid(
            f"no free job uid in {self.uids} on this machine (VATTI_JOB_UID_RANGE): every one "
            "is leased by a running job or belongs to a user, group or subordinate range"
        )
