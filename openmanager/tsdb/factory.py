"""Open the configured storage backend: embedded by default, remote when configured."""

from __future__ import annotations

from openmanager.config.settings import StorageSettings
from openmanager.tsdb.storage import Storage


def open_storage(settings: StorageSettings) -> Storage:
    """The `Storage` named by `settings.backend` (imported lazily: each pulls its own deps)."""
    if settings.backend == "remote":
        from openmanager.tsdb.remote import RemoteStorage

        return RemoteStorage(settings)
    from openmanager.tsdb.engine import EmbeddedStorage

    return EmbeddedStorage(settings.path, settings)
