"""The metadata tables as typed SQLAlchemy 2 ORM classes; migrations in `migrations/` mirror them.

Notify tables keep the column names of the earlier notify.db so such a file upgrades in place.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints predictably."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Server(Base):
    """One monitored server in the inventory."""

    __tablename__ = "servers"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    environment: Mapped[str] = mapped_column(String(64), default="")
    role: Mapped[str] = mapped_column(String(64), default="")
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    first_seen: Mapped[float] = mapped_column(Double)
    last_seen: Mapped[float] = mapped_column(Double)


class SilenceRow(Base):
    """A notification silence (matchers as JSON triples)."""

    __tablename__ = "silences"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    matchers: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[float] = mapped_column(Double)
    ends_at: Mapped[float] = mapped_column(Double)
    created_by: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Double)


class Episode(Base):
    """One firing period of one alert (alert history)."""

    __tablename__ = "episodes"
    __table_args__ = (
        Index("episodes_fp", "fingerprint", "resolved_at"),
        Index("episodes_fired", "fired_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    alertname: Mapped[str] = mapped_column(Text)
    labels: Mapped[str] = mapped_column(Text)
    annotations: Mapped[str] = mapped_column(Text)
    fired_at: Mapped[float] = mapped_column(Double)
    resolved_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    flapping: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class NotificationRow(Base):
    """One delivery attempt outcome for one receiver integration."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    receiver: Mapped[str] = mapped_column(Text)
    integration: Mapped[str] = mapped_column(Text)
    group_key: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))


class NotificationEpisode(Base):
    """Which episodes a notification told about, and in which state."""

    __tablename__ = "notification_episodes"
    __table_args__ = (Index("ne_episode", "episode_id"),)
    notification_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), primary_key=True)


class NotificationLogRow(Base):
    """What each integration was last told about a group (dedup across restarts/instances)."""

    __tablename__ = "nflog"
    group_key: Mapped[str] = mapped_column(String(500), primary_key=True)
    receiver: Mapped[str] = mapped_column(String(200), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    firing: Mapped[str] = mapped_column(Text)
    resolved: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Double)


class User(Base):
    """A person or service account; its API keys cannot exceed its role."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Double)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiKeyRow(Base):
    """An API key: only its SHA-256 digest is stored, with a short prefix to recognise it by."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Double, nullable=True)


class ModelVersion(Base):
    """One trained analytics model version in the registry."""

    __tablename__ = "model_versions"
    __table_args__ = (Index("model_versions_name", "name", "version", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(32), default="candidate")
    params: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    artifact: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Double)


class IncidentRow(Base):
    """An incident (correlated alerts/anomalies); ``doc`` is its whole record with the timeline."""

    __tablename__ = "incidents"
    __table_args__ = (Index("incidents_status_started", "status", "started_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[float] = mapped_column(Double)
    last_event_at: Mapped[float] = mapped_column(Double)
    doc: Mapped[dict[str, object]] = mapped_column(JSON)


class InteractionRow(Base):
    """One question to the assistant: its answer, the evidence used, latency and rating."""

    __tablename__ = "assistant_interactions"
    __table_args__ = (Index("assistant_interactions_at", "at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[float] = mapped_column(Double)
    question: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    narrator: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, object]] = mapped_column(JSON)
    latency_ms: Mapped[float] = mapped_column(Double)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class AnomalyRow(Base):
    """One anomaly the detection job found; ``doc`` is its full evidence (JSON)."""

    __tablename__ = "anomalies"
    __table_args__ = (
        Index("anomalies_at", "at"),
        Index("anomalies_server_at", "server", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Double)
    server: Mapped[str] = mapped_column(String(200), default="")
    metric: Mapped[str] = mapped_column(String(200), default="")
    check: Mapped[str] = mapped_column(String(64), default="")
    score: Mapped[float] = mapped_column(Double)
    doc: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
