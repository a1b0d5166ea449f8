"""Settings-derived configs for tests: the defaults of the settings, never the environment's."""

from __future__ import annotations

import dataclasses
from typing import Any

from vatti.config import EngineSettings
from vatti.engine.context import EngineConfig


def engine_config(**fields: Any) -> EngineConfig:
    """The engine's config on default settings, with ``fields`` (``EngineConfig`` names) set."""
    base = EngineConfig.from_settings(EngineSettings())
    return dataclasses.replace(base, **fields)
