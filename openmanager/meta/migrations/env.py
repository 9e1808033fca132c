"""Alembic environment: runs on the connection handed over by openmanager.meta.migrate."""

from __future__ import annotations

from alembic import context

from openmanager.meta.models import Base

conn = context.config.attributes.get("connection")
if conn is None:  # `alembic revision --autogenerate` from a shell: needs a URL
    raise RuntimeError("run migrations through openmanager.meta.migrate.upgrade")
context.configure(
    connection=conn, target_metadata=Base.metadata, render_as_batch=conn.dialect.name == "sqlite"
)
with context.begin_transaction():
    context.run_migrations()
