"""What keeps the service's own processes and files out of a job's reach.

- :func:`protect_process`: ``PR_SET_DUMPABLE`` 0, so a process of the same uid (a job's command
  when the service does not run as root) cannot read this one's ``/proc/PID/environ``, ``mem``
  or attach a debugger; a different uid is refused by the kernel anyway.
- :func:`forbid_new_privileges`: ``PR_SET_NO_NEW_PRIVS`` 1, inherited by every child and kept
  across ``execve``: a job's command cannot gain privileges through a set-uid program.
- :func:`private_data_dir`: the data dir belongs to the service alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import stat
import sys
from pathlib import Path

log = logging.getLogger("vatti.isolation")

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
#: the data dir when jobs must pass through it to their scratch (under their own uid): others
#: may traverse it, not list it; everything in it is private
PASS_THROUGH = 0o711
PRIVATE = 0o700


def jobs_get_own_uids() -> bool:
    """Whether this process gives each job's commands a uid of their own (it runs as root)."""
    return sys.platform.startswith("linux") and os.geteuid() == 0


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        log.warning("isolation.prctl_failed option=%d errno=%d", option, ctypes.get_errno())
        return False
    return True


def protect_process() -> bool:
    """Make this process undumpable (see the module documentation); whether it worked."""
    return _prctl(PR_SET_DUMPABLE, 0)


def forbid_new_privileges() -> bool:
    """Set ``no_new_privs`` on this process and its future children; whether it worked."""
    return _prctl(PR_SET_NO_NEW_PRIVS, 1)


def data_dir_mode(data_dir: Path, scratch_root: Path) -> int:
    """0711 when jobs under their own uid reach their scratch through the data dir, else 0700."""
    inside = scratch_root.resolve().is_relative_to(data_dir.resolve())
    return PASS_THROUGH if inside and jobs_get_own_uids() else PRIVATE


def private_data_dir(data_dir: Path, scratch_root: Path) -> None:
    """Create the data dir if missing and make it the service's alone.

    The dir gets :func:`data_dir_mode`; each entry in it loses every group and other bit (the
    database, the object store, the run dirs, the catalog cache), except the scratch root, which
    others may traverse (0711) when jobs run under their own uid: a job reaches its own scratch
    by its path and cannot list anyone else's.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    mode = data_dir_mode(data_dir, scratch_root)
    os.chmod(data_dir, mode)
    scratch = scratch_root.resolve()
    for entry in data_dir.iterdir():
        with contextlib.suppress(FileNotFoundError):
            st = entry.lstat()
            if stat.S_ISLNK(st.st_mode):
                continue
            if entry.resolve() == scratch:
                os.chmod(entry, mode)
            elif st.st_mode & 0o077:
                os.chmod(entry, stat.S_IMODE(st.st_mode) & 0o700)


def unreachable_ancestor(path: Path) -> Path | None:
    """The first directory above ``path`` that others may not traverse (no ``o+x``), if any:
    a job under its own uid cannot reach ``path`` by its absolute path through it."""
    for parent in reversed(path.resolve().parents):
        try:
            if not parent.stat().st_mode & stat.S_IXOTH:
                return parent
        except OSError:
            return parent
    return None
