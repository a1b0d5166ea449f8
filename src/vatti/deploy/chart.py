"""The Helm chart's view of the configuration contract, generated from :data:`COMPONENTS`.

Each workload of the chart (``deploy/helm/vatti``) runs some of vatti's components; the
variables it may be given are those of their settings groups. This module writes two files of
the chart from that, so a settings group added to :mod:`vatti.config` reaches the chart by
running ``python -m vatti.deploy.chart`` (a test fails until it has been run):

- ``files/variables.json``: per workload, the plain variables values may set and the secret
  ones read from ``existingSecret`` (the templates refuse any other name, and a secret one in
  plain values);
- the variables table of the chart's ``README.md``, between two marker lines.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vatti.config import COMPONENTS, Variable, variables

CHART_DIR = Path(__file__).resolve().parents[3] / "deploy" / "helm" / "vatti"
VARIABLES_FILE = Path("files") / "variables.json"
README_FILE = Path("README.md")
BEGIN = "<!-- variables:begin (python -m vatti.deploy.chart writes this table) -->"
END = "<!-- variables:end -->"


@dataclass(frozen=True)
class Workload:
    name: str
    what: str
    components: tuple[str, ...]


#: the chart's workloads and the components each runs (what its command loads)
WORKLOADS = (
    Workload(
        "serve",
        "the `serve` Deployment: `vatti serve --no-engine` (PostgreSQL), or `vatti serve` "
        "with its engine embedded (SQLite)",
        ("api", "engine", "runtime"),
    ),
    Workload("engine", "the `engine` Deployment: `vatti engine`", ("engine", "runtime")),
    Workload("worker", "the optional `worker` Deployment: `vatti worker` (Celery)", ("worker",)),
    Workload("migrate", "the migration hook Job: `vatti db upgrade`", ("admin",)),
)

#: variables the chart sets itself (its ports, probes and volumes depend on them)
CHART_SET = {
    "VATTI_HOST": "0.0.0.0 (the pod's address)",
    "VATTI_PORT": "`serve.port`",
    "VATTI_DATA_DIR": "`dataDir` (a volume: `persistence`, else an emptyDir)",
}


def workload_variables(workload: Workload) -> list[Variable]:
    """The variables of every settings group the workload's components read, in order."""
    seen: dict[str, Variable] = {}
    for component in workload.components:
        for group in COMPONENTS[component].groups:
            for var in variables(group):
                seen.setdefault(var.name, var)
    return list(seen.values())


def variables_json(workloads: Sequence[Workload] = WORKLOADS) -> str:
    table: dict[str, dict[str, list[str]]] = {}
    for workload in workloads:
        found = [v for v in workload_variables(workload) if v.name not in CHART_SET]
        table[workload.name] = {
            "plain": sorted(v.name for v in found if not v.secret),
            "secret": sorted(v.name for v in found if v.secret),
        }
    head = {"_generated_by": "python -m vatti.deploy.chart", "_chart_set": sorted(CHART_SET)}
    return json.dumps({**head, **table}, indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def variables_table(workloads: Sequence[Workload] = WORKLOADS) -> str:
    """The Markdown table of every variable: which workloads read it, how it is set."""
    rows: dict[str, tuple[Variable, list[str]]] = {}
    for workload in workloads:
        for var in workload_variables(workload):
            rows.setdefault(var.name, (var, []))[1].append(workload.name)
    lines = [
        "| variable | workloads | set with | default | description |",
        "|---|---|---|---|---|",
    ]
    for name, (var, names) in rows.items():
        if name in CHART_SET:
            how = f"the chart: {CHART_SET[name]}"
        elif var.secret:
            how = "`existingSecret` key"
        else:
            how = "`env` (or `WORKLOAD.env`)"
        default = "" if var.secret or not var.default else f"`{_cell(var.default)}`"
        lines.append(
            f"| `{name}` | {', '.join(names)} | {how} | {default} | {_cell(var.description)} |"
        )
    return "\n".join(lines) + "\n"


def readme_with_table(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``.

    >>> text = readme_with_table(f"a\\n{BEGIN}\\nold\\n{END}\\nb\\n", "| new |\\n")
    >>> text.splitlines()[2:]
    ['| new |', '<!-- variables:end -->', 'b']
    """
    head, found, rest = readme.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise ValueError(f"the chart's README has no {BEGIN!r} ... {END!r} block")
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def generated(chart_dir: Path = CHART_DIR) -> dict[Path, str]:
    """What each generated file of the chart must hold."""
    readme = (chart_dir / README_FILE).read_text()
    return {
        chart_dir / VARIABLES_FILE: variables_json(),
        chart_dir / README_FILE: readme_with_table(readme, variables_table()),
    }


def main(argv: Sequence[str] = ()) -> int:
    """Write the generated files (``--check``: only say which are out of date, exit 1)."""
    stale = [p for p, text in generated().items() if not p.exists() or p.read_text() != text]
    if "--check" in argv:
        for path in stale:
            sys.stderr.write(f"{path} is out of date: run python -m vatti.deploy.chart\n")
        return 1 if stale else 0
    for path, text in generated().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
