"""The settings model: every setting declared once, with a description (the docs list them all)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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
        None, description="SQLite file for silences and alert history (default: notify.db in storage.path)."
    )
    history_retention: str = Field(
        "90d",
        pattern=r"^\d+[smhdwy]$",
        description="How long resolved alert history and expired silences are kept.",
    )
    flap_threshold: int = Field(
        6, ge=0, description="State changes within `flap_window` above which an alert is held as flapping (0 = off)."
    )
    flap_window: str = Field(
        "1h", pattern=r"^\d+[smhdw]$", description="Window for counting an alert's state changes."
    )
    retry_attempts: int = Field(5, ge=1, le=100, description="Delivery attempts per notification.")
    retry_backoff: str = Field(
        "1s", pattern=r"^\d+(ms|[smh])$", description="First retry delay; doubles per attempt."
    )
    retry_max_backoff: str = Field(
        "1m", pattern=r"^\d+(ms|[smh])$", description="Longest delay between retries."
    )
    maintenance_windows: list[MaintenanceWindowSettings] = Field(
        default_factory=list, description="Recurring maintenance windows (cron schedule + duration)."
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
        """Plain data for `config export` (paths as strings)."""
        return self.model_dump(mode="json")


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
