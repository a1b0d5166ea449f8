"""Staging a job's declared inputs into its private scratch, before its pipeline runs.

Each input gets ``<inputs dir>/<n>/<file name>`` (the runtime's is ``<scratch>/inputs``), so
names never clash and a file keeps the name (suffix) that tells its format. Sources:

- a **local path** is read only under the runtime's input root (``VATTI_INPUT_ROOT``; ``vatti
  run`` uses its working directory), after resolving symbolic links; it is linked, not copied
  (it is already on this machine, and may be large);
- URLs and encrypted (crypt4gh) inputs are refused with a clear message until their sources
  exist.

A declared size or SHA-256 is verified. Every refusal is a failure of step ``inputs`` with a
stable code (``input_refused``, ``input_missing``, ``input_mismatch``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from vatti.domain.inputs import DeclaredInput
from vatti.pipelines.errors import StepFailed

STEP = "inputs"
CHUNK = 1 << 20


def _refused(message: str, code: str = "input_refused") -> StepFailed:
    return StepFailed(STEP, message, code=code)


def local_path(declared: DeclaredInput, input_root: Path | None) -> Path:
    """The real path of a local input under ``input_root``; refuse anything else."""
    value = declared.location
    if input_root is None:
        raise _refused(
            f"local input {value!r} refused: this server reads no local files "
            "(set VATTI_INPUT_ROOT to allow a directory)"
        )
    root = input_root.resolve()
    path = (root / value).resolve()
    if not path.is_relative_to(root):
        raise _refused(f"local input {value!r} lies outside the input root")
    if not path.is_file():
        raise _refused(f"input file {value!r} does not exist", "input_missing")
    return path


def verify(declared: DeclaredInput, path: Path) -> None:
    """Check the declared size and SHA-256 of a staged file."""
    if declared.size is not None:
        size = path.stat().st_size
        if size != declared.size:
            raise _refused(
                f"input {declared.location!r} has {size} bytes, {declared.size} were declared",
                "input_mismatch",
            )
    if declared.sha256 is not None:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != declared.sha256.lower():
            raise _refused(
                f"input {declared.location!r} does not match its declared SHA-256",
                "input_mismatch",
            )


def stage_inputs(
    declared: Sequence[DeclaredInput], inputs_dir: Path, *, input_root: Path | None
) -> dict[str, Path]:
    """Stage every input into ``inputs_dir``; the local path of each, by key."""
    keys = [d.key for d in declared]
    if len(set(keys)) != len(keys):
        raise ValueError("declared input keys must be unique")
    staged: dict[str, Path] = {}
    for index, item in enumerate(declared):
        if item.encrypted:
            raise _refused(
                f"input {item.location!r} is encrypted: crypt4gh staging is not available"
            )
        if item.scheme is not None:
            raise _refused(
                f"input {item.location!r}: {item.scheme}:// sources are not available here"
            )
        source = local_path(item, input_root)
        verify(item, source)
        target = inputs_dir / str(index) / source.name
        target.parent.mkdir(parents=True, mode=0o700)
        os.symlink(source, target)
        staged[item.key] = target
    return staged
