"""The README documents what users read in outputs and settings (it cannot drift from the code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vatti.config import COMPONENTS, variables
from vatti.pipelines.pgs.report import LOG_COLUMNS, SUMMARY_COLUMNS

pytestmark = pytest.mark.unit

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")


def test_quick_start_shows_exactly_the_two_setup_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.strip() for line in block.strip().splitlines()] == ["make demo", "make test"]


@pytest.mark.parametrize("column", [*LOG_COLUMNS, *SUMMARY_COLUMNS])
def test_every_report_column_is_documented(column: str) -> None:
    assert f"| `{column}` |" in README


def test_every_setting_is_documented() -> None:
    names = {v.name for c in COMPONENTS.values() for g in c.groups for v in variables(g)}
    missing = sorted(n for n in names if f"| `{n}` |" not in README)
    assert missing == []


def test_the_shipped_commands_file_is_the_readmes_example() -> None:
    from vatti.pipelines.command_file import SHIPPED_COMMANDS

    assert f"```toml\n{SHIPPED_COMMANDS.read_text(encoding='utf-8')}```" in README


def test_hattivatti_events_of_every_state_are_documented() -> None:
    from vatti.domain.states import HATTIVATTI_EVENTS

    rows = {}
    for line in README.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if (
            len(cells) == 2
            and cells[1].startswith("`")
            and cells[1][1:-1] in set(HATTIVATTI_EVENTS.values())
        ):
            for state in cells[0].split(","):
                rows[state.strip().strip("`")] = cells[1].strip("`")
    assert rows == {state.value: event for state, event in HATTIVATTI_EVENTS.items()}


def test_every_metric_is_documented_with_its_type_and_labels() -> None:
    from vatti.metrics.definitions import METRICS

    for m in METRICS:
        labels = ", ".join(f"`{label}`" for label in m.labels) or "—"
        assert f"| `{m.name}` | {m.kind} | {labels} |" in README


def test_the_wes_state_of_every_state_is_documented() -> None:
    from vatti.domain.failure import Failure
    from vatti.domain.states import JobState, wes_state

    section = README.split("### GA4GH WES", 1)[1].split("###", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[1].isupper() and cells[1].replace("_", "").isalpha():
            for state in cells[0].split(" (")[0].split(","):
                rows.setdefault(state.strip().strip("`"), set()).add(cells[1])
    step = Failure("pipeline_failed", "exit 3", step="command", exit_code=3)
    expected = {s.value: {wes_state(s)} for s in JobState}
    expected["failed"] = {wes_state(JobState.FAILED, step), wes_state(JobState.FAILED)}
    assert rows == expected
