"""Executors chosen by name: lazy imports, a clear message when an extra is missing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vatti.config import EngineSettings
from vatti.errors import ConfigError
from vatti.executors.registry import EXECUTORS, ExecutorEntry, load_factory

pytestmark = pytest.mark.unit

REGISTRY = {
    **EXECUTORS,
    "imaginary": ExecutorEntry("vatti_no_such_module.executor:build", "nowhere", extra="imag"),
    "core-broken": ExecutorEntry("vatti_no_such_module.core:build", "a core one"),
}


def test_a_missing_extra_names_what_to_install() -> None:
    with pytest.raises(ConfigError, match=r"pip install 'vatti\[imag\]'"):
        load_factory("imaginary", REGISTRY)


def test_a_broken_core_executor_is_not_blamed_on_an_extra() -> None:
    with pytest.raises(ImportError):
        load_factory("core-broken", REGISTRY)


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match="choose from local, celery, slurm, kubernetes, imaginary"
    ):
        load_factory("nope", REGISTRY)


@pytest.mark.parametrize(
    ("name", "module"),
    [("local", "local"), ("celery", "celery"), ("slurm", "slurm"), ("kubernetes", "kubernetes")],
)
def test_an_executor_is_imported_only_when_chosen(name: str, module: str) -> None:
    code = (
        "import sys, vatti.config, vatti.executors.registry as r\n"
        f"before = {module!r} in sys.modules or 'vatti.executors.{module}' in sys.modules\n"
        f"r.load_factory({name!r})\n"
        f"print(before, 'vatti.executors.{module}' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_the_settings_accept_only_registered_executors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_EXECUTOR", "local")
    assert EngineSettings.from_environment().executor == "local"
    monkeypatch.setenv("VATTI_EXECUTOR", "nope")
    with pytest.raises(ValueError, match="unknown executor"):
        EngineSettings.from_environment()
