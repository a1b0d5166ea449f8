"""The OpenAPI document tells the truth: schemathesis (``--checks all``) against a live server.

The server is the real app over SQLite with token auth (a token with every scope), an engine
that never runs, and an inert executor: generated jobs are stored and stay queued, nothing runs.
schemathesis runs from a side environment (:mod:`vatti.testing.side_envs`, built once from
``schemathesis-requirements.txt``, rebuilt when that file changes) so that its dependencies and
pytest plugins stay out of the project's. What it cannot know from the document is in
``schemathesis.toml`` beside this file, each entry with its reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.api.conftest import TOKENS, Api

from vatti.testing.schemathesis import run_schemathesis

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
CONFIG = HERE / "schemathesis.toml"
MAX_EXAMPLES = 20
#: the coverage phase (boundary values of every schema) takes minutes here: run it by hand
PHASES = "examples,fuzzing,stateful"
SEED = 6
RUN_TIMEOUT_S = 150


def test_schemathesis_finds_no_failure(api: Api, tmp_path: Path) -> None:
    base = api.serve()
    run_schemathesis(
        f"{base}/openapi.json",
        config=CONFIG,
        token=TOKENS["admin"],
        cwd=tmp_path,
        max_examples=MAX_EXAMPLES,
        seed=SEED,
        phases=PHASES,
        extra=["--report", "junit", "--report-dir", str(tmp_path / "report")],
        timeout_s=RUN_TIMEOUT_S,
    )
