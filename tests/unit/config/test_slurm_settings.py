"""The SLURM settings: shown under the engine, checked only for the SLURM executor."""

from __future__ import annotations

import os

import pytest

from vatti.config import COMPONENTS, Settings, SlurmSettings, variables
from vatti.errors import ConfigError

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def no_vatti_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("VATTI_") or name == "SLURM_CONF":
            monkeypatch.delenv(name)


def test_the_engine_and_cli_show_them() -> None:
    for component in ("engine", "cli"):
        names = {v.name for g in COMPONENTS[component].groups for v in variables(g)}
        assert {"VATTI_SLURM_MAX_JOBS", "VATTI_SLURM_PARTITION", "VATTI_SLURM_ACCOUNT"} <= names
    assert SlurmSettings not in COMPONENTS["runtime"].groups  # a job never gets them


def test_the_engine_names_a_missing_slurm_conf_only_for_the_slurm_executor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings.for_component("engine").slurm == SlurmSettings()
    monkeypatch.setenv("VATTI_EXECUTOR", "slurm")
    with pytest.raises(ConfigError) as caught:
        Settings.for_component("engine")
    assert "SLURM_CONF: required by the SLURM executor" in caught.value.message
    monkeypatch.setenv("SLURM_CONF", "/etc/slurm/slurm.conf")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError) as caught:
        Settings.for_component("engine")
    assert "sbatch: required by the SLURM executor, not on PATH" in caught.value.message


def test_limits_and_names_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_SLURM_MAX_JOBS", "0")
    monkeypatch.setenv("VATTI_SLURM_PARTITION", "bad name;rm")
    with pytest.raises(ConfigError) as caught:
        Settings.for_component("engine")
    named = [line.partition(":")[0] for line in caught.value.message.splitlines()[1:]]
    assert named == ["VATTI_SLURM_MAX_JOBS", "VATTI_SLURM_PARTITION"]
    monkeypatch.setenv("VATTI_SLURM_MAX_JOBS", "4")
    monkeypatch.setenv("VATTI_SLURM_PARTITION", "batch")
    slurm = Settings.for_component("engine").slurm
    assert slurm is not None
    assert (slurm.slurm_max_jobs, slurm.slurm_partition) == (4, "batch")
