"""Executors by name (``VATTI_EXECUTOR``): each a factory imported only when chosen.

An optional executor lives behind an extra (``pip install 'vatti[celery]'``): when its import
fails, :func:`build_executor` says which extra to install instead of showing the import error.
This module is the one place that knows the executors' names; the settings validate against it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from vatti.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from vatti.config import Settings
    from vatti.executors.base import Executor


@dataclass(frozen=True)
class ExecutorEntry:
    """Where an executor's factory lives (``module:function``), and the extra it needs."""

    factory: str
    description: str
    extra: str | None = None


EXECUTORS: Mapping[str, ExecutorEntry] = {
    "local": ExecutorEntry(
        "vatti.executors.local:from_settings",
        "one process group per job on this machine, forked by a pre-imported launcher",
    ),
    "celery": ExecutorEntry(
        "vatti.executors.celery:from_settings",
        "one Celery task per job, run by vatti worker in a child process that exits with it; "
        "needs VATTI_CELERY_*",
        extra="celery",
    ),
    "slurm": ExecutorEntry(
        "vatti.executors.slurm:from_settings",
        "one sbatch job per job on a SLURM cluster, running the job runtime; needs SLURM_CONF "
        "and VATTI_SLURM_*",
    ),
    "kubernetes": ExecutorEntry(
        "vatti.executors.kubernetes:from_settings",
        "one batch/v1 Job per job on a Kubernetes cluster, running the job runtime in its pod; "
        "needs VATTI_K8S_*",
        extra="k8s",
    ),
}
DEFAULT_EXECUTOR = "local"


def executor_names(registry: Mapping[str, ExecutorEntry] = EXECUTORS) -> tuple[str, ...]:
    return tuple(registry)


def load_factory(
    name: str, registry: Mapping[str, ExecutorEntry] = EXECUTORS
) -> Callable[[Settings], Executor]:
    """The factory of executor ``name``; :class:`ConfigError` when unknown or not installed."""
    entry = registry.get(name)
    if entry is None:
        known = ", ".join(registry)
        raise ConfigError(f"unknown executor {name!r} (VATTI_EXECUTOR): choose from {known}")
    module_name, _, attr = entry.factory.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if entry.extra is None:
            raise
        raise ConfigError(
            f"the {name!r} executor needs the {entry.extra!r} extra: "
            f"pip install 'vatti[{entry.extra}]' ({exc})"
        ) from exc
    return cast("Callable[[Settings], Executor]", getattr(module, attr))


def build_executor(
    settings: Settings, name: str, registry: Mapping[str, ExecutorEntry] = EXECUTORS
) -> Executor:
    return load_factory(name, registry)(settings)
