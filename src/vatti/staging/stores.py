"""The two stores of a deployment: work areas, and results areas (the same store by default)."""

from __future__ import annotations

from dataclasses import dataclass

from vatti.config import Settings
from vatti.staging.objects import ObjectStore


@dataclass(frozen=True)
class Stores:
    work: ObjectStore
    results: ObjectStore

    @property
    def separate(self) -> bool:
        """Whether the results live apart from the work areas."""
        return self.results is not self.work


def open_stores(settings: Settings) -> Stores:
    """The work store (``VATTI_OBJECT_STORE_URL``) and the results store
    (``VATTI_RESULTS_STORE_URL``, default: the work store itself), as the settings reach them."""
    work_url, results_url = settings.object_store_url(), settings.results_store_url()
    work = ObjectStore.from_url(work_url, settings.store)
    if results_url.rstrip("/") == work_url.rstrip("/"):
        return Stores(work, work)
    return Stores(work, ObjectStore.from_url(results_url, settings.store))
