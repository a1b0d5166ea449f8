"""How a pipeline runs a job's command: under the job's uid, in its own areas only.

:class:`Sandbox` is what :class:`vatti.pipelines.base.RunContext` hands a pipeline. With a
:class:`~vatti.isolation.uids.JobUser` (the service runs as root), :meth:`Sandbox.run` first
hands the job its areas (the work dir and the staged inputs: owned by its uid, group and others
shut out), then starts the command with every privilege dropped in the child just before
``execve`` (supplementary groups cleared, then the gid, then the uid), umask 077; when the
command has exited, every process left under the uid is killed, so nothing of the job changes
its files while the runtime collects its outputs. Without a user (the service is not root) the
command runs as the service's user.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from vatti.isolation.uids import JobUser, kill_processes_of

#: the umask of a job's command: what it creates is its own
JOB_UMASK = 0o077


def hand_over(root: Path, user: JobUser) -> None:
    """Make everything under ``root`` (``root`` included) ``user``'s, without following links;
    directories 0700, files keep their owner bits only."""
    if not root.exists():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        _own(base, user, is_dir=True)
        for name in filenames:
            _own(base / name, user, is_dir=False)
        for name in dirnames:
            if (base / name).is_symlink():
                _own(base / name, user, is_dir=False)


def _own(path: Path, user: JobUser, *, is_dir: bool) -> None:
    os.chown(path, user.uid, user.gid, follow_symlinks=False)
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return
    os.chmod(path, 0o700 if is_dir else stat.S_IMODE(st.st_mode) & 0o700)


@dataclass(frozen=True)
class Sandbox:
    """Runs a job's commands; see the module documentation.

    ``user``: the job's own uid (None: the service's user); ``areas``: the directories the job
    may use, handed to ``user`` before each command.
    """

    user: JobUser | None = None
    areas: tuple[Path, ...] = ()

    def run(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> int:
        """Run ``argv`` to its end; its return code (``-N`` for a death by signal N).

        Raises OSError when it cannot be started.
        """
        if self.user is None:
            return subprocess.run(list(argv), cwd=cwd, env=dict(env), check=False).returncode
        for area in self.areas:
            hand_over(area, self.user)
        try:
            return subprocess.run(
                list(argv),
                cwd=cwd,
                env=dict(env),
                user=self.user.uid,
                group=self.user.gid,
                extra_groups=[],
                umask=JOB_UMASK,
                close_fds=True,
                check=False,
            ).returncode
        finally:
            kill_processes_of(self.user)
