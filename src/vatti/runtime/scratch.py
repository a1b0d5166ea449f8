"""The job's private clear-text scratch directory: created private, always deleted.

Without a job user the scratch dir is 0700, the runtime's. With one (the service runs as root)
the scratch root and the job's scratch dir are 0711, root's: the job passes through them to its
own areas (its work dir and staged inputs, which the sandbox hands to its uid) and can list
neither; what the runtime keeps there for itself (the outputs it uploads, its temporary files)
stays 0700, root's, where the job cannot plant anything.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vatti.isolation.hardening import PASS_THROUGH, PRIVATE, unreachable_ancestor

log = logging.getLogger("vatti.job")


def scratch_path(root: Path, job_id: str) -> Path:
    """Where a job's scratch dir lives (the engine removes it too if the job is killed)."""
    return root / job_id


@contextmanager
def private_scratch(root: Path, job_id: str, *, pass_through: bool = False) -> Iterator[Path]:
    """Create ``root/<job_id>``; delete it on exit, whatever happens.

    ``pass_through``: the job's commands run under another uid, which must reach its areas in
    the scratch dir by their paths (see the module documentation).
    """
    mode = PASS_THROUGH if pass_through else PRIVATE
    root.mkdir(parents=True, exist_ok=True, mode=mode)
    os.chmod(root, mode)
    if pass_through and (blocked := unreachable_ancestor(root)) is not None:
        log.warning(
            "runtime.scratch_unreachable scratch_root=%s blocked_by=%s: the job's commands "
            "cannot reach their files by absolute path (give the directory o+x)",
            root,
            blocked,
        )
    path = scratch_path(root, job_id)
    shutil.rmtree(path, ignore_errors=True)  # a leftover of an earlier attempt
    path.mkdir(mode=mode)
    os.chmod(path, mode)  # whatever the umask
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
