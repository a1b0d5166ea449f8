"""Side virtual environments for the peers tests and benchmarks compare with (schemathesis,
Celery, the pgscatalog tools), cached by their requirements.

An environment lives in ``$VATTI_SIDE_ENVS`` (default ``~/.cache/vatti/side-envs``), named after
its purpose and a digest of its requirements, so a fresh clone on the same machine (CI) reuses
it and a changed pin builds a new one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

STAMP = ".installed"


def side_envs_root() -> Path:
    configured = os.environ.get("VATTI_SIDE_ENVS")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vatti" / "side-envs"


def env_dir(name: str, requirements: Sequence[str]) -> Path:
    """Where the environment of ``name`` with ``requirements`` (pip arguments) lives.

    >>> a, b = env_dir("peer", ["x==1"]), env_dir("peer", ["x==2"])
    >>> a.name.startswith("peer-") and a != b
    True
    """
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:12]
    return side_envs_root() / f"{name}-{digest}"


def ensure_side_env(
    name: str, requirements: Sequence[str], *, timeout_s: float = 600.0, quiet: bool = True
) -> Path:
    """The ``bin`` directory of the environment, built first when it is missing.

    Raises ``subprocess.CalledProcessError``/``TimeoutExpired``/``OSError`` when it cannot be
    built (callers decide whether that skips or fails).
    """
    venv = env_dir(name, requirements)
    bin_dir = venv / "bin"
    if (venv / STAMP).exists():
        return bin_dir
    python = getattr(sys, "_base_executable", None) or shutil.which("python3") or "python3"
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(bin_dir / "pip"), "install", "--disable-pip-version-check", "--quiet", *requirements],
        check=True,
        timeout=timeout_s,
        capture_output=quiet,
    )
    (venv / STAMP).touch()
    return bin_dir
