"""Storage backends behind one protocol."""

from __future__ import annotations

from ..settings import Settings, StorageBackend
from .base import Store, StoreUnavailable

__all__ = ["Store", "StoreUnavailable", "create_store"]


def create_store(settings: Settings) -> Store:
    """The backend named by STORAGE_BACKEND; Cosmos is imported only when chosen."""
    if settings.storage_backend is StorageBackend.COSMOS:
        from .cosmos import CosmosStore

        store: Store = CosmosStore.from_settings(settings)
        return store
    from .sqlite import SqliteStore

    return SqliteStore(
        settings.sqlite_path, busy_timeout_seconds=settings.sqlite_busy_timeout_seconds
    )
