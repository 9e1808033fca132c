"""Settings models for scraping (Prometheus `scrape_configs`) and the host collector agent.

Field names and defaults follow Prometheus's configuration file, so a `scrape_configs` block
copied from `prometheus.yml` validates here unchanged (for the fields we support).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DURATION = r"^(\d+(ms|s|m|h|d|w|y))+$"

RelabelAction = Literal["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "hashmod"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RelabelConfig(_Strict):
    """One relabelling rule, with Prometheus's defaults."""

    source_labels: list[str] = Field(
        default_factory=list, description="Labels whose values are joined as the rule's input."
    )
    separator: str = Field(";", description="Joins the source label values.")
    regex: str = Field("(.*)", description="Fully anchored regular expression.")
    modulus: int = Field(0, ge=0, description="Modulus of `hashmod`.")
    target_label: str = Field("", description="Label written by `replace` and `hashmod`.")
    replacement: str = Field("$1", description="Value written by `replace`; `$1`/`${1}` expand.")
    action: RelabelAction = Field("replace", description="What the rule does.")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regex {value!r}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _complete(self) -> RelabelConfig:
        if self.action in ("replace", "hashmod") and not self.target_label:
            raise ValueError(f"relabel action {self.action} requires target_label")
        if self.action == "hashmod" and self.modulus == 0:
            raise ValueError("relabel action hashmod requires a non-zero modulus")
        return self


class StaticConfig(_Strict):
    """A fixed list of targets with labels shared by all of them."""

    targets: list[str] = Field(default_factory=list, description="host:port of each target.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of every target.")


class FileSDConfig(_Strict):
    """Target groups read from JSON/YAML files, re-read when a file changes."""

    files: list[str] = Field(description="File paths; the last path element may be a glob.")
    refresh_interval: str = Field("5m", pattern=DURATION, description="Forced re-read period.")


class BasicAuth(_Strict):
    """HTTP basic authentication."""

    username: str = Field(description="User name.")
    password: str = Field("", description="Password.")


class ScrapeConfig(_Strict):
    """One scrape job (a `scrape_configs` entry of prometheus.yml)."""

    job_name: str = Field(min_length=1, description="The `job` label of its targets.")
    scrape_interval: str = Field("1m", pattern=DURATION, description="Time between scrapes.")
    scrape_timeout: str = Field("10s", pattern=DURATION, description="Per-scrape timeout.")
    metrics_path: str = Field("/metrics", description="HTTP path of the exposition.")
    scheme: Literal["http", "https"] = Field("http", description="URL scheme.")
    params: dict[str, list[str]] = Field(default_factory=dict, description="URL parameters.")
    honor_labels: bool = Field(False, description="Scraped labels win over target labels.")
    honor_timestamps: bool = Field(True, description="Keep timestamps the exposition carries.")
    sample_limit: int = Field(0, ge=0, description="Fail a scrape with more samples (0 = none).")
    basic_auth: BasicAuth | None = Field(None, description="Basic authentication.")
    bearer_token: str = Field("", description="Bearer token sent as Authorization header.")
    static_configs: list[StaticConfig] = Field(default_factory=list, description="Targets.")
    file_sd_configs: list[FileSDConfig] = Field(default_factory=list, description="File SD.")
    relabel_configs: list[RelabelConfig] = Field(
        default_factory=list, description="Target relabelling before scraping."
    )
    metric_relabel_configs: list[RelabelConfig] = Field(
        default_factory=list, description="Sample relabelling before storage."
    )


class AgentSettings(BaseModel):
    """The host collector (psutil, node_exporter names)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(False, description="Collect this host's metrics in `serve`.")
    interval: str = Field("15s", pattern=r"^\d+[smh]$", description="Time between collections.")
    job: str = Field("node", description="The `job` label of the host's series.")
    instance: str = Field("", description="The `instance` label (default: the host name).")
    remote_write_url: str = Field(
        "", description="`openmanager agent` pushes here by remote-write instead of storing."
    )
