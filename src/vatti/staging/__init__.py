"""Object stores (obstore, URL-addressed) and the per-job work and results areas in them."""

from vatti.domain.manifest import OutputEntry
from vatti.staging.areas import ObjectOutcomes, ObjectWorkAreas
from vatti.staging.errors import InvalidKey, ObjectNotFound, OutputNotFound, StorageError
from vatti.staging.objects import ObjectStore

__all__ = [
    "InvalidKey",
    "ObjectNotFound",
    "ObjectOutcomes",
    "ObjectStore",
    "ObjectWorkAreas",
    "OutputEntry",
    "OutputNotFound",
    "StorageError",
]
