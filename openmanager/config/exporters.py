"""Settings of one export target (`exporters:` list): where stored samples are pushed, and how."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

ExporterKind = Literal["influxdb", "datadog", "otlp", "clickhouse"]

_DURATION = r"^\d+(ms|[smhd])$"


class ExporterSettings(BaseModel):
    """One export target; `kind` picks the wire format, the rest is shared batching and retries."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str = Field(
        ...,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Unique name (job `export:NAME`, metric label).",
    )
    kind: ExporterKind = Field(..., description="influxdb, datadog, otlp or clickhouse.")
    url: str = Field(
        ...,
        description=(
            "InfluxDB/ClickHouse/Datadog base URL or OTLP/HTTP endpoint; "
            "for ClickHouse also `chdb:///path` (embedded engine)."
        ),
    )
    match: list[str] = Field(
        default_factory=list,
        description='Series selectors to export, e.g. `node_load1{env="prod"}` (all series if empty).',
    )
    interval: str = Field("30s", pattern=_DURATION, description="How often new samples are pushed.")
    delay: str = Field(
        "0s",
        pattern=_DURATION,
        description="Samples younger than this wait for the next run (room for late writes).",
    )
    batch_size: int = Field(5000, ge=1, le=1_000_000, description="Samples per request.")
    retry_attempts: int = Field(
        4, ge=1, le=100, description="Attempts per batch before dead-lettering it."
    )
    retry_backoff: str = Field(
        "1s", pattern=_DURATION, description="First retry delay; doubles per attempt."
    )
    timeout: str = Field("10s", pattern=_DURATION, description="Timeout of one request.")
    database: str = Field(
        "openmanager", description="InfluxDB database / ClickHouse database the samples go to."
    )
    table: str = Field("samples", description="ClickHouse table of samples (created if missing).")
    api_key: str = Field(
        "",
        description="Datadog API key (`DD-API-KEY` header; may be `enc:v1:...`).",
        json_schema_extra={"secret": True},
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra HTTP headers (e.g. an OTLP collector's auth)."
    )

    @model_validator(mode="after")
    def _check(self) -> ExporterSettings:
        if self.kind == "clickhouse":
            for key in ("database", "table"):
                if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", getattr(self, key)):
                    raise ValueError(f"{key} {getattr(self, key)!r} is not a plain identifier")
        if not re.match(r"^(https?://|chdb://)", self.url):
            raise ValueError(f"url {self.url!r} must start with http://, https:// or chdb://")
        if self.url.startswith("chdb://") and self.kind != "clickhouse":
            raise ValueError("chdb:// URLs are only for kind clickhouse")
        return self


def _unique_names(targets: list[ExporterSettings]) -> list[ExporterSettings]:
    names = [t.name for t in targets]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"exporter names must be unique; repeated: {', '.join(dupes)}")
    return targets


ExporterList = Annotated[list[ExporterSettings], AfterValidator(_unique_names)]
"""The `exporters` section: targets with unique names."""
