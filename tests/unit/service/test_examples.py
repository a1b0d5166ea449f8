"""Every request in ``examples/`` is one the service accepts (nothing is stored or run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vatti.domain.access import OPERATOR_CALLER
from vatti.pipelines.base import default_registry
from vatti.service.requests import job_of_body

pytestmark = pytest.mark.unit

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.json"))


def test_there_are_examples() -> None:
    assert "hattivatti-encrypted-message.json" in [p.name for p in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_each_example_is_a_valid_job_request(path: Path) -> None:
    new = job_of_body(path.read_bytes(), default_registry(), OPERATOR_CALLER)
    assert new.pipeline in {"command", "pgs"}
