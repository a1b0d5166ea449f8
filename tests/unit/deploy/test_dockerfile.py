"""The Dockerfile's own lint rules (no hadolint here, and no image can be built here)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parents[3] / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Build arguments before the first FROM, and the stages with their instructions."""
    logical = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            key, _, value = rest.partition("=")
            args[key] = value
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE.read_text())[1]


def test_parser_reads_continuations_and_stages() -> None:
    args, found = parse(
        "ARG B=debian:12.5\nFROM ${B} AS one\n# c\nRUN a \\\n    && b\nFROM one\nUSER 1\n"
    )
    assert args == {"B": "debian:12.5"}
    assert [(s.base, s.name) for s in found] == [("debian:12.5", "one"), ("one", None)]
    assert found[0].instructions == [("RUN", "a && b")]


def test_is_multi_stage_and_the_build_stays_out_of_the_image(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert all(s.name for s in stages[:-1])
    final = stages[-1]
    copied = final.all("COPY")
    assert any(c.startswith(f"--from={stages[0].name} ") for c in copied)
    assert all(c.startswith("--from=") for c in copied)  # no source tree, no build tools


def test_every_base_is_pinned(stages: list[Stage]) -> None:
    names = {s.name for s in stages}
    for stage in stages:
        if stage.base in names:
            continue
        image, _, digest = stage.base.partition("@")
        _, _, tag = image.rpartition(":")
        pinned_digest = re.fullmatch(r"sha256:[0-9a-f]{64}", digest) is not None
        exact_tag = re.match(r"\d+\.\d+\.\d+", tag) is not None  # e.g. 3.11.7-slim-bookworm
        assert pinned_digest or exact_tag, stage.base
        assert "latest" not in stage.base


def test_runs_as_a_non_root_user(stages: list[Stage]) -> None:
    users = stages[-1].all("USER")
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit()  # numeric, so the kubelet's runAsNonRoot can verify it
    assert int(uid) != 0
    last_user = max(i for i, (kw, _) in enumerate(stages[-1].instructions) if kw == "USER")
    assert all(
        kw in ("ENTRYPOINT", "CMD", "ENV", "WORKDIR", "LABEL", "EXPOSE")
        for kw, _ in stages[-1].instructions[last_user + 1 :]
    )


def test_no_add_and_no_download_in_the_image(stages: list[Stage]) -> None:
    for stage in stages:
        assert stage.all("ADD") == [], "COPY, never ADD (no URLs, no implicit unpacking)"
        for run in stage.all("RUN"):
            assert not re.search(r"\b(curl|wget)\b", run), run


def test_apt_installs_are_minimal_and_clean(stages: list[Stage]) -> None:
    installs = [r for s in stages for r in s.all("RUN") if "apt-get install" in r]
    assert installs
    for run in installs:
        assert "apt-get update" in run  # in the same layer: no stale package lists
        assert "--no-install-recommends" in run
        assert " -y " in f" {run} "
        assert run.rstrip().endswith("rm -rf /var/lib/apt/lists/*")
    for stage in stages:
        for run in stage.all("RUN"):
            if "pip install" in run:
                assert "--no-cache-dir" in run


def test_plink2_comes_from_debian_in_the_final_image(stages: list[Stage]) -> None:
    runs = stages[-1].all("RUN")
    assert any(re.search(r"apt-get install [^&]*\bplink2\b", r) for r in runs)


def test_the_job_runtime_is_the_entry_point(stages: list[Stage]) -> None:
    entrypoints = stages[-1].all("ENTRYPOINT")
    assert len(entrypoints) == 1
    argv = json.loads(entrypoints[0])  # exec form: signals reach the process
    assert argv == ["tini", "--", "vatti", "job-run"]
    assert any(re.search(r"apt-get install [^&]*\btini\b", r) for r in stages[-1].all("RUN"))
    assert not stages[-1].all("CMD")


def test_the_charts_commands_use_the_images_init(stages: list[Stage]) -> None:
    del stages
    templates = DOCKERFILE.parent / "deploy" / "helm" / "vatti" / "templates"
    commands = re.findall(
        r"command: \[([^\]]+)\]", "".join(p.read_text() for p in sorted(templates.glob("*.yaml")))
    )
    assert commands
    assert all(c.startswith("tini, --, vatti, ") for c in commands)


def test_the_build_context_leaves_out_environments_data_and_history() -> None:
    ignored = {
        line.strip()
        for line in (DOCKERFILE.parent / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "vatti-data"} <= ignored
    copied = {args.split()[0] for s in parse(DOCKERFILE.read_text())[1] for args in s.all("COPY")}
    assert not copied & ignored  # what the Dockerfile copies is in the context
