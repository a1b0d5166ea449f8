"""Render, lint and validate the chart for named value sets; run by the side environment's
Python (helm-python-sdk and kubernetes-validate), never imported by the tests.

stdin: {"chart": DIR, "kube_version": "1.37.0", "cases": {NAME: {"values": {...},
"namespace": NS}}}; stdout: {"versions": {...}, "cases": {NAME: {"error": MESSAGE or null,
"lint": [FINDING], "objects": [{"template": PATH, "doc": {...}, "problems": [TEXT]}]}}}.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import helm_python as helm  # type: ignore[import-not-found]
import kubernetes_validate  # type: ignore[import-not-found]
import yaml  # type: ignore[import-untyped]


def validate(doc: dict[str, Any], version: str) -> list[str]:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except Exception as exc:  # every kind of refusal is a finding to report
        return [f"{type(exc).__name__}: {exc}"]
    return []


def run_case(chart_dir: str, version: str, case: dict[str, Any]) -> dict[str, Any]:
    values, namespace = case.get("values") or {}, case.get("namespace", "vatti")
    result: dict[str, Any] = {"error": None, "lint": [], "objects": []}
    report = helm.lint(
        chart_dir, values, strict=True, namespace=namespace, kube_version=f"v{version}"
    )
    result["lint"] = [
        f"{m.get('severity')}: {m.get('path')}: {m.get('error')}"
        for m in report.get("messages", [])
    ] + [str(e) for e in report.get("errors", [])]
    try:
        with helm.Chart.load(chart_dir) as chart:
            rendered = chart.render(values, name="demo", namespace=namespace, is_install=True)
    except Exception as exc:  # the test asserts what the template's fail said
        result["error"] = str(exc)
        return result
    for template, text in sorted(rendered.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                problems = validate(doc, version)
                result["objects"].append({"template": template, "doc": doc, "problems": problems})
    return result


def main() -> None:
    request = json.load(sys.stdin)
    version = request["kube_version"]
    out = {
        "versions": {
            "helm": helm.helm_sdk_version(),
            "kubernetes_validate": kubernetes_validate.__version__,
        },
        "cases": {
            name: run_case(request["chart"], version, case)
            for name, case in request["cases"].items()
        },
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
