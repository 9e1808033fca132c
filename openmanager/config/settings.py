"""The settings model: every setting declared once, with a description (the docs list them all)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from openmanager.config.exporters import ExporterList
from openmanager.config.scrape import AgentSettings, ScrapeConfig

Profile = Literal["development", "production", "test"]


class Section(BaseModel):
    """Base of every settings section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServerSettings(Section):
    """The HTTP server."""

    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(
        8080, ge=0, le=65535, description="TCP port of the HTTP server (0 = any free port)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the server and its components."
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`text` for people, `json` for log shippers (one object a line, with request ids).",
    )
    access_log: bool = Field(
        True,
        description="Log one line per HTTP request (at info level); off saves CPU on heavily polled endpoints.",
    )


class RetentionSettings(Section):
    """How long each resolution tier keeps data."""

    raw: str = Field("7d", pattern=r"^\d+[smhdwy]$", description="Retention of raw samples.")
    m1: str = Field("30d", pattern=r"^\d+[smhdwy]$", description="Retention of the 1-minute tier.")
    m5: str = Field("90d", pattern=r"^\d+[smhdwy]$", description="Retention of the 5-minute tier.")
    h1: str = Field("1y", pattern=r"^\d+[smhdwy]$", description="Retention of the 1-hour tier.")


class StorageSettings(Section):
    """The time-series store."""

    backend: Literal["embedded", "remote"] = Field(
        "embedded",
        description="`embedded` stores data here; `remote` forwards to a Prometheus-compatible store.",
    )
    path: Path = Field(Path("data"), description="Directory of the embedded store (WAL, blocks).")
    remote_url: str = Field(
        "",
        description="Base URL of the remote store (e.g. http://127.0.0.1:8428) when backend is remote.",
    )
    out_of_order_window: str = Field(
        "10m",
        pattern=r"^\d+[smhdwy]$",
        description="How late a sample may arrive and still be accepted.",
    )
    future_tolerance: str = Field(
        "10m",
        pattern=r"^\d+[smhdwy]$",
        description="How far in the future a sample timestamp may be.",
    )
    block_duration: str = Field(
        "2h",
        pattern=r"^\d+[smhdwy]$",
        description="Time span of data the head holds before it is cut into a block.",
    )
    wal_fsync: bool = Field(
        True, description="fsync the WAL before acknowledging a batch (durability on power loss)."
    )
    cut_worker_min_samples: int = Field(
        100_000,
        ge=0,
        description="Cuts of the head into blocks holding at least this many samples are encoded "
        "and written in a separate worker process (off the server's CPU and GIL); smaller cuts "
        "are written inline. 0 sends every cut to the worker.",
    )
    head_max_backlog_samples: int = Field(
        5_000_000,
        ge=0,
        description="Back-pressure: once the head spans more than 3 block durations (the cutter "
        "fell behind, e.g. a backfill arriving by remote write) and holds more than this many "
        "samples, appends wait for a cut. Bounds head memory (~12 bytes/sample, plus transient "
        "copies of the range being cut) and WAL replay time; while history far behind the clock "
        "holds under half of it, it is cut in whole windows of the largest cut span (6h with 7d "
        "of raw retention, 18h from 8d on: longer chunks, cheaper to encode). 0: wait at 3 block durations as before.",
    )
    retention: RetentionSettings = Field(default_factory=RetentionSettings)


class SimulatorSettings(Section):
    """The built-in fleet simulator."""

    enabled: bool = Field(True, description="Run the simulated fleet as a data source in `serve`.")
    seed: int = Field(
        1, description="Random seed; the same seed gives the same fleet, metrics and faults."
    )
    servers: int = Field(
        20, ge=1, le=100_000, description="Fleet size; 20 is the default named fleet."
    )
    interval: str = Field(
        "15s", pattern=r"^\d+[smh]$", description="Time between ticks (scrape interval)."
    )
    faults: bool = Field(True, description="Inject fault scenarios at their configured rates.")
    fault_rate_scale: float = Field(
        1.0,
        ge=0.0,
        le=1000.0,
        description="Multiplier applied to every scenario's probability per hour.",
    )
    backfill: str = Field(
        "1h",
        pattern=r"^\d+[smhdwy]$",
        description="History the simulator writes at start so charts are not empty.",
    )


class RulesSettings(Section):
    """Alerting and recording rules (Prometheus rule-file format)."""

    files: list[str] = Field(
        default_factory=list,
        description="Rule files to load (globs allowed), as Prometheus's `rule_files`.",
    )
    evaluation_interval: str = Field(
        "1m",
        pattern=r"^\d+(ms|[smhdwy])$",
        description="How often groups without their own `interval` are evaluated.",
    )
    external_url: str = Field(
        "", description="URL prefix of alerts' `generatorURL` (Prometheus's --web.external-url)."
    )
    external_labels: dict[str, str] = Field(
        default_factory=dict, description="Labels added to alerts handed to notifiers."
    )


class MaintenanceWindowSettings(Section):
    """A recurring maintenance window: alerts matching `matchers` are not notified during it."""

    name: str = Field(..., description="Name shown in alert status (`maintenance:NAME`).")
    cron: str = Field(..., description="Cron schedule of window starts, e.g. `0 2 * * sun`.")
    duration: str = Field(..., pattern=r"^\d+[smhdw]$", description="Length of each window.")
    matchers: list[str] = Field(
        default_factory=list, description='Alertmanager matchers, e.g. `env="prod"` (all if empty).'
    )
    timezone: str = Field("UTC", description="Time zone the cron schedule is read in.")


class NotifySettings(Section):
    """Notifications: Alertmanager-dialect routing file, forwarding, history, noise control."""

    config_file: Path | None = Field(
        None,
        description="Alertmanager-format file (route, receivers, inhibit_rules, time_intervals); unset = no routing.",
    )
    alertmanager_urls: list[str] = Field(
        default_factory=list,
        description="Real Alertmanagers to forward every alert to (`/api/v2/alerts`).",
    )
    external_url: str = Field("", description="URL put in notifications as `externalURL`.")
    history_file: Path | None = Field(
        None,
        description="Own SQLite file for silences and alert history (default: the metadata store, `meta`).",
    )
    history_retention: str = Field(
        "90d",
        pattern=r"^\d+[smhdwy]$",
        description="How long resolved alert history and expired silences are kept.",
    )
    flap_threshold: int = Field(
        6,
        ge=0,
        description="State changes within `flap_window` above which an alert is held as flapping (0 = off).",
    )
    flap_window: str = Field(
        "1h", pattern=r"^\d+[smhdw]$", description="Window for counting an alert's state changes."
    )
    retry_attempts: int = Field(5, ge=1, le=100, description="Delivery attempts per notification.")
    retry_backoff: str = Field(
        "1s",
        pattern=r"^\d+(ms|[smh])$",
        description="Scale of the first retry delay; exponential backoff with full jitter.",
    )
    retry_max_backoff: str = Field(
        "1m", pattern=r"^\d+(ms|[smh])$", description="Longest delay between retries."
    )
    timeout: str = Field(
        "10s",
        pattern=r"^\d+(ms|[smh])$",
        description="Timeout of each delivery attempt (webhook, Slack, SMTP, Alertmanager): a hung endpoint fails after it.",
    )
    breaker_threshold: int = Field(
        5,
        ge=1,
        le=1000,
        description="Notifications to one integration failing in a row (after their retries) that open its circuit breaker.",
    )
    breaker_reset: str = Field(
        "30s",
        pattern=r"^\d+(ms|[smh])$",
        description="How long an open breaker refuses deliveries (failing fast) before one trial call.",
    )
    maintenance_windows: list[MaintenanceWindowSettings] = Field(
        default_factory=list,
        description="Recurring maintenance windows (cron schedule + duration).",
    )


class KnowledgeDatabaseSettings(Section):
    """Rows of a database table as documents: one SQL query, its title and body columns."""

    url: str = Field(
        ..., description="SQLAlchemy URL, e.g. `sqlite:///kb.db` or `postgresql+psycopg://host/db`."
    )
    query: str = Field(..., description="SELECT returning one row per document.")
    title_column: str = Field("title", description="Column holding the document's title.")
    body_column: str = Field("body", description="Column holding the document's text.")
    id_column: str = Field(
        "", description="Column naming each row in its source (default: row number)."
    )


class KnowledgeSettings(Section):
    """Runbooks and documents the assistant retrieves passages from (BM25, embeddings optional)."""

    builtin_runbooks: bool = Field(
        True, description="Index the runbooks shipped for the default rules and fault scenarios."
    )
    paths: list[Path] = Field(
        default_factory=list, description="Folders (or files) of Markdown/text documents to index."
    )
    urls: list[str] = Field(default_factory=list, description="Documents to fetch over HTTP(S).")
    databases: list[KnowledgeDatabaseSettings] = Field(
        default_factory=list, description="Database tables whose rows are documents."
    )
    refresh: str = Field(
        "15m", pattern=r"^\d+[smhd]$", description="How often sources are collected and re-indexed."
    )
    embedding_model: Path | None = Field(
        None,
        description="Local sentence-transformers model folder to add embeddings to BM25 (never downloaded).",
    )


class LLMSettings(Section):
    """An optional language model that phrases answers from the gathered evidence."""

    provider: Literal["none", "ollama", "openai"] = Field(
        "none",
        description="`none` = built-in template narrator; `ollama` or any `openai`-compatible API.",
    )
    url: str = Field(
        "", description="Base URL: Ollama `http://127.0.0.1:11434`, OpenAI-compatible `.../v1`."
    )
    model: str = Field("", description="Model name sent with every request.")
    api_key: str = Field(
        "",
        description="Bearer token for OpenAI-compatible endpoints (may be `enc:v1:...`).",
        json_schema_extra={"secret": True},
    )
    timeout: str = Field(
        "30s", pattern=r"^\d+(ms|[sm])$", description="Timeout of one model request."
    )
    retries: int = Field(
        2, ge=0, le=10, description="Retries of a failed request (exponential backoff)."
    )
    breaker_failures: int = Field(
        3,
        ge=1,
        description="Consecutive failed calls after which the model is not asked for a while.",
    )
    breaker_reset: str = Field(
        "60s", pattern=r"^\d+[smh]$", description="How long the circuit stays open before a retry."
    )
    tool_rounds: int = Field(
        3,
        ge=0,
        le=10,
        description="Follow-up PromQL queries (tool calls) the model may make per answer.",
    )


class AssistantSettings(Section):
    """The operator assistant: evidence gathering, narration, interaction history."""

    llm: LLMSettings = Field(default_factory=LLMSettings)
    history_file: Path | None = Field(
        None, description="Own SQLite file for interactions (default: the metadata store, `meta`)."
    )
    lookback: str = Field(
        "1h", pattern=r"^\d+[smhd]$", description="Window for baselines, anomalies and incidents."
    )


class MetaSettings(Section):
    """The metadata store (inventory, alert history, silences, API keys, model registry)."""

    url: str = Field(
        "",
        description="SQLAlchemy URL; empty = SQLite `meta.db` in storage.path; `postgresql://user@host/db` for PostgreSQL (psycopg 3). May be `enc:v1:...`.",
        json_schema_extra={"secret": True},
    )
    pg_schema: str = Field(
        "",
        pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,62})?$",
        description="PostgreSQL schema for OpenManager's tables (created if missing; empty = the default search path).",
    )
    pool_size: int = Field(5, ge=1, le=100, description="Connections kept open to PostgreSQL.")


class SecuritySettings(Section):
    """Authentication (API keys and roles), rate and size limits, CORS."""

    auth: bool = Field(
        False,
        description="Require an API key (`Authorization: Bearer KEY` or `X-API-Key`) with a role on every endpoint.",
    )
    rate_limit_per_key: str = Field(
        "",
        pattern=r"^(\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?)?$",
        description="Requests allowed per API key, e.g. `100/second` (empty = unlimited); over it: 429 with Retry-After.",
    )
    rate_limit_per_ip: str = Field(
        "",
        pattern=r"^(\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?)?$",
        description="Requests allowed per client address, e.g. `50/second` (empty = unlimited).",
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Where rate-limit counters live (`limits` storage URI; `redis://host:6379` shares them between instances).",
    )
    max_body_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest request body accepted; larger ones get 413."
    )
    key_cache_ttl: str = Field(
        "10s",
        pattern=r"^\d+(ms|[smh])$",
        description="How long a verified API key is trusted before it is looked up again (revocation delay).",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (`*` = any); empty = CORS off.",
    )


class IncidentSettings(Section):
    """Incidents: how alerts and anomalies are grouped, and the declared service dependencies."""

    enabled: bool = Field(True, description="Group alerts and anomalies into incidents in `serve`.")
    database: Path | None = Field(
        None, description="Own SQLite file for incidents (default: the metadata store, `meta`)."
    )
    group_window: str = Field(
        "15m",
        pattern=r"^\d+[smhdw]$",
        description="An event joins an open incident whose last event is at most this old.",
    )
    resolve_after: str = Field(
        "15m",
        pattern=r"^\d+[smhdw]$",
        description="An incident with no firing alert and no new event for this long is resolved.",
    )
    group_labels: list[str] = Field(
        default_factory=lambda: ["service", "cluster"],
        description="Labels whose shared value puts events of unrelated servers in one incident.",
    )
    dependencies: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Declared service dependencies: server -> servers it calls (web -> api -> db). "
        "The simulated fleet adds its own.",
    )


class RedisSettings(Section):
    """Redis for several instances: shared live events, fleet state cache, one rule/notify leader."""

    url: str = Field(
        "",
        description="Redis URL (e.g. redis://127.0.0.1:6379/0); empty = single instance, in-process bus.",
    )
    key_prefix: str = Field(
        "openmanager",
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Prefix of every Redis key and channel; instances sharing it form one cluster.",
    )
    cache_ttl: str = Field(
        "2m",
        pattern=r"^\d+(ms|[smh])$",
        description="How long the cached fleet state lives in Redis without a refresh.",
    )
    leader_ttl: str = Field(
        "15s",
        pattern=r"^\d+(ms|[smh])$",
        description="Lease of the rule/notify leader lock; another instance takes over after it.",
    )
    timeout: str = Field(
        "2s", pattern=r"^\d+(ms|[smh])$", description="Timeout of each Redis command."
    )
    reconnect_max_backoff: str = Field(
        "10s",
        pattern=r"^\d+(ms|[smh])$",
        description="Longest wait between reconnection attempts while Redis is down.",
    )


class LogsSettings(Section):
    """Server logs: the store, simulated lines and files tailed on this host."""

    enabled: bool = Field(True, description="Store logs, serve `/api/v1/logs` and stream them.")
    path: Path | None = Field(
        None, description="Directory of the log store (default: `logs` in storage.path)."
    )
    retention: str = Field(
        "7d", pattern=r"^\d+[smhdwy]$", description="How long log lines are kept (whole days)."
    )
    simulate: bool = Field(
        True, description="The simulated fleet writes log lines (when the simulator is enabled)."
    )
    lines_per_minute: float = Field(
        4.0, ge=0.0, le=10_000.0, description="Everyday simulated log lines per server per minute."
    )
    tail_paths: list[str] = Field(
        default_factory=list,
        description="Log files on this host to follow (globs allowed, e.g. `/var/log/*.log`).",
    )
    tail_interval: str = Field(
        "2s", pattern=r"^\d+(ms|[smh])$", description="How often tailed files are read."
    )
    tail_server: str = Field(
        "", description="Server name of tailed lines (default: this host's name)."
    )


class ModelsSettings(Section):
    """The analytics model registry: how trained forecaster versions are retrained and promoted."""

    retrain_every: str = Field(
        "1d",
        pattern=r"^(0|\d+[smhdw])$",
        description="How often `serve` trains a new version of every model in production (0 = never).",
    )
    window: str = Field(
        "3d", pattern=r"^\d+[smhdw]$", description="History a version is trained and validated on."
    )
    auto_promote: bool = Field(
        True,
        description="Promote a new version when its validation error beats production's on the same window.",
    )


class Settings(BaseSettings):
    """All of OpenManager's configuration. Environment: OPENMANAGER_<SECTION>__<KEY>."""

    model_config = SettingsConfigDict(
        env_prefix="OPENMANAGER_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    profile: Profile = Field("development", description="Profile whose defaults apply first.")
    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    scrape_configs: list[ScrapeConfig] = Field(
        default_factory=list, description="Prometheus-style scrape jobs (see prometheus.yml)."
    )
    agent: AgentSettings = Field(default_factory=AgentSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    logs: LogsSettings = Field(default_factory=LogsSettings)
    meta: MetaSettings = Field(default_factory=MetaSettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    exporters: ExporterList = Field(
        default_factory=list,
        description="Targets stored samples are pushed to (InfluxDB, Datadog, OTLP, ClickHouse).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file; the file (passed as init kwargs) beats profile defaults.
        return (env_settings, init_settings)

    def to_yaml_dict(self) -> dict[str, Any]:
        """Plain data for `config show|export` (paths as strings, plain-text secrets redacted)."""
        data = self.model_dump(mode="json")
        _redact(self, data)
        return data


_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def _redact(model: BaseModel, data: dict[str, Any]) -> None:
    """Mask fields marked `secret` in place: a URL keeps all but its password, `enc:` tokens stay."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            _redact(value, data[name])
        if isinstance(value, list):
            for item, dumped in zip(value, data[name], strict=True):
                if isinstance(item, BaseModel):
                    _redact(item, dumped)
        extra = field.json_schema_extra
        if not (isinstance(extra, dict) and extra.get("secret")) or not isinstance(value, str):
            continue
        if value and not value.startswith("enc:"):
            data[name] = _URL_PASSWORD.sub(r"\1***@", value) if "://" in value else "<secret>"


PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "development": {},
    "production": {
        "server": {"host": "0.0.0.0"},
        "simulator": {"enabled": False},
        "storage": {"path": "/var/lib/openmanager"},
    },
    "test": {
        "server": {"port": 0, "log_level": "warning"},
        "storage": {"wal_fsync": False},
        "simulator": {"backfill": "0s"},
    },
}
