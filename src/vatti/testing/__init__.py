"""Helpers for the project's own tests: service gates, fakes and fixtures' building blocks.

Nothing here is imported by the service itself.
"""
