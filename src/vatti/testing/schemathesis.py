"""Run schemathesis (``--checks all``) from its side environment against a live server.

schemathesis runs from a side environment (:mod:`vatti.testing.side_envs`, built once from
``tests/integration/api/schemathesis-requirements.txt``, rebuilt when that file changes) so that
its dependencies and pytest plugins stay out of the project's. The bearer token reaches it in
``VATTI_TEST_TOKEN`` (read by the config file), never on a command line.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from vatti.testing.services import missing
from vatti.testing.side_envs import ensure_side_env

REQUIREMENTS = (
    Path(__file__).resolve().parents[3] / "tests/integration/api/schemathesis-requirements.txt"
)


def side_env() -> Path:
    """The side environment's ``schemathesis`` executable, creating the environment if needed."""
    lines = REQUIREMENTS.read_text().splitlines()
    requirements = [r.strip() for r in lines if r.strip() and not r.startswith("#")]
    try:
        bin_dir = ensure_side_env("schemathesis", requirements, timeout_s=300)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        missing("schemathesis", f"its side environment could not be built ({exc})")
    return bin_dir / "schemathesis"


def run_schemathesis(
    schema: str,
    *,
    config: Path,
    token: str,
    cwd: Path,
    max_examples: int,
    seed: int,
    phases: str,
    extra: Sequence[str] = (),
    timeout_s: float,
) -> str:
    """Run every check on ``schema`` (a URL or a file; ``extra``: more options) and return its
    report; a failure, or a report without test cases, fails the calling test with the report."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")},
        "VATTI_TEST_TOKEN": token,
        "NO_COLOR": "1",
    }
    argv = [str(side_env()), "--config-file", str(config), "run", schema, "--checks", "all"]
    argv += ["--max-examples", str(max_examples), "--seed", str(seed), "--phases", phases]
    argv += ["--workers", "2", "--generation-database", "none"]
    argv += ["--suppress-health-check", "too_slow", *extra]
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s
    )
    (cwd / "schemathesis.out").write_text(result.stdout)  # the whole report
    summary = result.stdout[-8000:]
    if result.returncode != 0:
        pytest.fail(summary + result.stderr[-2000:], pytrace=False)
    counts = re.search(r"(\d+) generated, (\d+) passed", summary)
    if counts is None or int(counts[1]) == 0 or counts[1] != counts[2]:
        pytest.fail(f"no test case, or not every one passed:\n{summary}", pytrace=False)
    return summary
