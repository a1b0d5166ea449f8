"""Gate tests on real services: skip with a hint locally, fail in CI.

CI sets ``CI=true``; there a missing service is an error, never a silent skip.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(what: str, how_to_enable: str) -> NoReturn:
    """Skip (locally) or fail (in CI) because ``what`` is not available."""
    message = f"{what} is not available; {how_to_enable}"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_url() -> str:
    """The admin URL of the test PostgreSQL server, or skip/fail when it is unreachable."""
    url = os.environ.get("VATTI_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not tcp_open(parsed.host or "127.0.0.1", parsed.port or 5432):
        missing(
            f"PostgreSQL at {parsed.host}:{parsed.port}",
            "start it or set VATTI_TEST_POSTGRES_URL to a server with trust auth",
        )
    return url


def plink2_path() -> str:
    """The plink2 binary, or skip/fail when it is not installed."""
    path = os.environ.get("VATTI_PLINK2") or shutil.which("plink2")
    if not path:
        missing("plink2", "run scripts/install-plink2.sh (Debian package plink2)")
    return path


#: The browser the report test renders pages in (Debian's chromium, driven by Playwright).
CHROMIUM = Path("/usr/bin/chromium")


@functools.cache
def chromium_path() -> Path:
    """Debian's chromium, installed once per test session by ``scripts/install-chromium.sh``
    when missing (as root); skip locally or fail in CI when it cannot be had."""
    if not CHROMIUM.exists():
        script = Path(__file__).resolve().parents[3] / "scripts/install-chromium.sh"
        done = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
        if done.returncode != 0 or not CHROMIUM.exists():
            missing("chromium", f"run {script} (Debian package chromium): {done.stderr.strip()}")
    return CHROMIUM


def shared_pgs_data() -> Path:
    """The shared PGS test data (``../shared/data/pgs`` beside the repository, or
    ``$VATTI_SHARED_DATA/pgs``), or skip/fail when it is not there."""
    root = os.environ.get("VATTI_SHARED_DATA")
    base = Path(root) if root else Path(__file__).resolve().parents[3] / "../shared/data"
    path = (base / "pgs").resolve()
    if not (path / "README.md").is_file():
        missing(f"the shared PGS data at {path}", "set VATTI_SHARED_DATA to the shared data dir")
    return path
