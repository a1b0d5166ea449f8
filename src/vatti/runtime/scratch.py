"""The job's private clear-text scratch directory: created 0700, always deleted."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def scratch_path(root: Path, job_id: str) -> Path:
    """Where a job's scratch dir lives (the engine removes it too if the job is killed)."""
    return root / job_id


@contextmanager
def private_scratch(root: Path, job_id: str) -> Iterator[Path]:
    """Create ``root/<job_id>`` readable by this user only; delete it on exit, whatever happens."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = scratch_path(root, job_id)
    shutil.rmtree(path, ignore_errors=True)  # a leftover of an earlier attempt
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)  # whatever the umask
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
