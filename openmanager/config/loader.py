"""Load settings from a YAML file, the environment and profile defaults, with clear errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from openmanager.config.settings import PROFILE_DEFAULTS, Settings
from openmanager.errors import ConfigError

ENV_PROFILE = "OPENMANAGER_PROFILE"
ENV_CONFIG = "OPENMANAGER_CONFIG"


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge `override` into a copy of `base`."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, naming the file and line on syntax errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of settings, not {type(data).__name__}"
        )
    return data


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: the dotted key, the bad value and what is allowed."""
    lines = [f"invalid configuration ({source}):"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        if err["type"] == "extra_forbidden":
            lines.append(
                f"  {key}: unknown setting (value {err['input']!r}); see `openmanager config show`"
            )
        else:
            lines.append(f"  {key} = {err['input']!r}: {err['msg']}")
    return "\n".join(lines)


def load_settings(
    config_file: Path | str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build validated settings: profile defaults < file < environment < explicit overrides."""
    env = os.environ
    path = config_file or env.get(ENV_CONFIG)
    file_data = read_yaml(Path(path)) if path else {}
    profile = str(
        env.get(ENV_PROFILE)
        or (overrides or {}).get("profile")
        or file_data.get("profile")
        or "development"
    )
    if profile not in PROFILE_DEFAULTS:
        allowed = ", ".join(PROFILE_DEFAULTS)
        raise ConfigError(
            f"invalid configuration: profile = {profile!r}: allowed profiles are {allowed}"
        )
    data = deep_merge(PROFILE_DEFAULTS[profile], file_data)
    data["profile"] = profile
    source = f"file {path}" if path else "defaults and environment"
    try:
        settings = Settings(**data)
        if overrides:
            settings = Settings(**deep_merge(settings.model_dump(), overrides))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from exc
    return settings
