"""The OpenAPI document tells the truth: schemathesis (``--checks all``) against a live server.

The server is the real app over SQLite with token auth (a token with every scope), an engine
that never runs, and an inert executor: generated jobs are stored and stay queued, nothing runs.
schemathesis runs from a side environment (:mod:`vatti.testing.side_envs`, built once from
``schemathesis-requirements.txt``, rebuilt when that file changes) so that its dependencies and
pytest plugins stay out of the project's. What it cannot know from the document is in
``schemathesis.toml`` beside this file, each entry with its reason.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from tests.integration.api.conftest import TOKENS, Api

from vatti.testing.services import missing
from vatti.testing.side_envs import ensure_side_env

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
REQUIREMENTS = HERE / "schemathesis-requirements.txt"
CONFIG = HERE / "schemathesis.toml"
ROOT = HERE.parents[2]
MAX_EXAMPLES = 20
#: the coverage phase (boundary values of every schema) takes minutes here: run it by hand
PHASES = "examples,fuzzing,stateful"
SEED = 6
RUN_TIMEOUT_S = 150


def side_env() -> Path:
    """The side environment's ``schemathesis`` executable, creating the environment if needed."""
    lines = REQUIREMENTS.read_text().splitlines()
    requirements = [r.strip() for r in lines if r.strip() and not r.startswith("#")]
    try:
        bin_dir = ensure_side_env("schemathesis", requirements, timeout_s=300)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        missing("schemathesis", f"its side environment could not be built ({exc})")
    return bin_dir / "schemathesis"


def test_schemathesis_finds_no_failure(api: Api, tmp_path: Path) -> None:
    tool = side_env()
    base = api.serve()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")},
        "VATTI_TEST_TOKEN": TOKENS["admin"],  # read by schemathesis.toml, never on argv
        "NO_COLOR": "1",
    }
    argv = [
        str(tool),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--phases",
        PHASES,
        "--workers",
        "2",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "too_slow",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    result = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )

    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary + result.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert counts is not None, summary
    assert int(counts[1]) > 0, summary
    assert counts[1] == counts[2], summary
