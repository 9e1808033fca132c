"""Render the settings model as a Markdown table (the README's settings reference)."""

from __future__ import annotations

from pydantic import BaseModel

from openmanager.config.settings import Settings


def settings_rows(
    model: type[BaseModel] = Settings, prefix: str = ""
) -> list[tuple[str, str, str]]:
    """(dotted key, default, description) for every leaf setting, in declaration order."""
    rows: list[tuple[str, str, str]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += settings_rows(annotation, f"{prefix}{name}.")
            continue
        default = field.get_default(call_default_factory=True)
        rows.append((f"{prefix}{name}", str(default), field.description or ""))
    return rows


def settings_markdown() -> str:
    """The settings reference table, with the environment variable of each key."""
    lines = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for key, default, description in settings_rows():
        env = "OPENMANAGER_" + key.upper().replace(".", "__")
        lines.append(f"| `{key}` | `{env}` | `{default}` | {description} |")
    return "\n".join(lines) + "\n"
