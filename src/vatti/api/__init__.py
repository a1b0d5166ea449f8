"""The HTTP API: ``create_app`` builds the FastAPI application over the job service."""

from __future__ import annotations

from vatti.api.app import create_app
from vatti.api.config import ApiConfig

__all__ = ["ApiConfig", "create_app"]
