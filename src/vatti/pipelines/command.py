"""The ``command`` pipeline: run an argv in the work area and collect declared outputs.

The command gets a clean environment (``PATH``, ``HOME`` and ``TMPDIR`` inside the work area, the
locale, plus the request's ``env``): nothing of the service's own settings, so no secret of the
service leaks into user code. It runs through the job's sandbox: under the job's own uid when
the service runs as root (:mod:`vatti.isolation.sandbox`).
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vatti.domain.inputs import DeclaredInput
from vatti.pipelines.base import PipelineOutcome, RunContext
from vatti.pipelines.errors import StepFailed
from vatti.pipelines.paths import RelativePath

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]

_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


class CommandParams(BaseModel):
    """Params of the ``command`` pipeline."""

    model_config = ConfigDict(extra="forbid", strict=True)

    argv: list[Annotated[str, Field(max_length=65536)]] = Field(min_length=1, max_length=4096)
    env: dict[EnvName, Annotated[str, Field(max_length=65536)]] = Field(default_factory=dict)
    outputs: list[RelativePath] = Field(
        default_factory=list, max_length=1000, json_schema_extra={"uniqueItems": True}
    )

    @field_validator("outputs")
    @classmethod
    def _once_each(cls, names: list[str]) -> list[str]:
        # names are normalised by now: "./a.txt" is "a.txt"
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"each output may be listed once (more than once: {', '.join(twice)})")
        return names


class CommandPipeline:
    name = "command"
    params_model = CommandParams

    def inputs(self, params: CommandParams) -> list[DeclaredInput]:
        """None: a command reads what its operator-given argv names."""
        del params
        return []

    def run(self, params: CommandParams, ctx: RunContext) -> PipelineOutcome:
        tmp = ctx.work_dir / ".tmp"
        tmp.mkdir(exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", _DEFAULT_PATH),
            "HOME": str(ctx.work_dir),
            "TMPDIR": str(tmp),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "VATTI_JOB_ID": ctx.job_id,
            **params.env,
        }
        ctx.log.info("command.start argv0=%s", params.argv[0])
        try:
            returncode = ctx.sandbox.run(params.argv, cwd=ctx.work_dir, env=env)
        except OSError as exc:
            raise StepFailed("command", f"cannot start {params.argv[0]!r}: {exc.strerror}") from exc
        if returncode != 0:
            status, how = exit_status(returncode)
            raise StepFailed("command", f"command {params.argv[0]!r} {how}", step_exit=status)
        return PipelineOutcome(
            outputs=collect_outputs(ctx.work_dir, ctx.output_dir, params.outputs)
        )


def exit_status(returncode: int) -> tuple[int, str]:
    """The shell's status for a child's return code (128 + N for a death by signal N), said.

    >>> exit_status(3), exit_status(-9)
    ((3, 'exited with status 3'), (137, 'was killed by signal SIGKILL (status 137)'))
    """
    if returncode >= 0:
        return returncode, f"exited with status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    status = 128 - returncode
    return status, f"was killed by signal {name} (status {status})"


def collect_outputs(work_dir: Path, output_dir: Path, names: list[str]) -> list[str]:
    """Copy each declared output from the work area to the output dir; all must exist."""
    missing = [n for n in names if not (work_dir / n).is_file()]
    if missing:
        raise StepFailed(
            "collect-outputs", f"declared outputs were not produced: {', '.join(missing)}"
        )
    root = work_dir.resolve()
    for name in names:
        src = (work_dir / name).resolve()
        if not src.is_relative_to(root):
            raise StepFailed("collect-outputs", f"output {name!r} points outside the work area")
        dest = output_dir / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    return list(names)
