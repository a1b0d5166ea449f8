"""The HTTP API: ``create_app`` builds the FastAPI application over an engine."""

from __future__ import annotations

from vatti.api.app import create_app
from vatti.api.config import ApiConfig
from vatti.api.ports import LogsReader, OutputEntry, OutputsReader

__all__ = ["ApiConfig", "LogsReader", "OutputEntry", "OutputsReader", "create_app"]
