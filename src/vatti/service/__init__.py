"""The job service: what every caller (HTTP API, CLI, later WES, Kafka, dashboard) goes through."""

from vatti.service.jobs import JobService, Submission

__all__ = ["JobService", "Submission"]
