"""The metadata store: inventory, alert history, silences, keys, models, incidents (SQLAlchemy 2)."""

from openmanager.meta.db import MetaDB, open_meta

__all__ = ["MetaDB", "open_meta"]
