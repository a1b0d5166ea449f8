"""The chart's generated files match vatti's configuration contract (``vatti config``)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vatti.cli import app
from vatti.config import COMPONENTS
from vatti.deploy import chart
from vatti.deploy.chart import CHART_DIR, CHART_SET, WORKLOADS, generated

ROOT = CHART_DIR.parents[2]


def test_the_generated_files_are_up_to_date() -> None:
    for path, text in generated().items():
        assert path.read_text() == text, f"{path}: run python -m vatti.deploy.chart"
    assert chart.main(["--check"]) == 0


def test_check_names_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "vatti"
    (copy / "files").mkdir(parents=True)
    (copy / "README.md").write_text((CHART_DIR / "README.md").read_text())
    (copy / "files" / "variables.json").write_text("{}\n")
    stale = [p for p, text in generated(copy).items() if p.read_text() != text]
    assert stale == [copy / "files" / "variables.json"]


def config_cli_variables(component: str) -> set[str]:
    """The variables ``vatti config --component C --markdown`` lists."""
    result = CliRunner().invoke(app, ["config", "--component", component, "--markdown"])
    assert result.exit_code == 0, result.output
    return set(re.findall(r"^\| `(VATTI_[A-Z0-9_]+)`", result.output, flags=re.MULTILINE))


def test_each_workload_reads_what_vatti_config_says_its_components_read() -> None:
    listed = json.loads((CHART_DIR / "files" / "variables.json").read_text())
    for workload in WORKLOADS:
        expected = set().union(*(config_cli_variables(c) for c in workload.components))
        entry = listed[workload.name]
        assert set(entry["plain"]) | set(entry["secret"]) == expected - set(CHART_SET)
        assert not set(entry["plain"]) & set(entry["secret"])
    assert set(listed["_chart_set"]) == set(CHART_SET)


def test_every_component_a_chart_workload_runs_is_known() -> None:
    assert {c for w in WORKLOADS for c in w.components} <= set(COMPONENTS)


def test_the_readme_documents_every_variable_once() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    rows = re.findall(r"^\| `(VATTI_[A-Z0-9_]+)` \|", readme, flags=re.MULTILINE)
    everything = set().union(*(config_cli_variables(c) for w in WORKLOADS for c in w.components))
    assert sorted(rows) == sorted(everything)
    for name in ("VATTI_DATABASE_URL", "VATTI_API_TOKENS", "VATTI_SECRET_KEY"):
        assert re.search(rf"^\| `{name}` \| [^|]+ \| `existingSecret` key \|", readme, re.M)


def test_the_charts_app_version_is_the_projects() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart_yaml = (CHART_DIR / "Chart.yaml").read_text()
    assert re.search(rf'^appVersion: "{re.escape(project)}"$', chart_yaml, re.M)
    values = (CHART_DIR / "values.yaml").read_text()
    assert re.search(r"^  repository: vatti$", values, re.M)
    assert f"docker build -t vatti:{project} ." in (ROOT / "Dockerfile").read_text()
