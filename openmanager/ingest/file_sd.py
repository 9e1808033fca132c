"""File-based service discovery: target groups from JSON/YAML files, re-read when they change.

Same file shape as Prometheus's `file_sd_configs`: a list of `{targets: [...], labels: {...}}`.
Each target gets `__meta_filepath`. Changes are detected by polling (path set, mtime, size), and
a file that fails to parse keeps its last good groups, as Prometheus does.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from openmanager.config.scrape import FileSDConfig
from openmanager.errors import InvalidInput

log = logging.getLogger(__name__)

META_PATH = "__meta_filepath"


@dataclass(frozen=True)
class TargetGroup:
    """Targets sharing labels, and where they came from."""

    targets: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    source: str


def parse_groups(text: str, path: str) -> list[TargetGroup]:
    """Target groups of one file (JSON if it ends in .json, else YAML)."""
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: cannot parse: {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, list):
        raise InvalidInput(f"{path}: expected a list of target groups")
    groups = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("targets", []), list):
            raise InvalidInput(f"{path}: group {i}: expected {{targets: [...], labels: {{...}}}}")
        labels = item.get("labels") or {}
        if not isinstance(labels, dict):
            raise InvalidInput(f"{path}: group {i}: labels must be a mapping")
        groups.append(
            TargetGroup(
                tuple(str(t) for t in item.get("targets", [])),
                tuple(
                    sorted({**{str(k): str(v) for k, v in labels.items()}, META_PATH: path}.items())
                ),
                f"{path}:{i}",
            )
        )
    return groups


@dataclass
class FileSD:
    """Polls the files of one `file_sd_configs` entry; `groups()` re-reads only what changed."""

    config: FileSDConfig
    _stamps: dict[str, tuple[float, int]] = field(default_factory=dict)
    _groups: dict[str, list[TargetGroup]] = field(default_factory=dict)

    def paths(self) -> list[str]:
        """Files matching the configured paths/globs now."""
        found: set[str] = set()
        for pattern in self.config.files:
            found.update(glob.glob(pattern))
        return sorted(p for p in found if Path(p).is_file())

    def groups(self) -> tuple[list[TargetGroup], bool]:
        """Current groups of every file, and whether anything changed since the last call."""
        paths = self.paths()
        changed = set(paths) != set(self._stamps)
        for gone in set(self._stamps) - set(paths):
            self._stamps.pop(gone)
            self._groups.pop(gone, None)
        for path in paths:
            st = os.stat(path)
            stamp = (st.st_mtime, st.st_size)
            if self._stamps.get(path) == stamp:
                continue
            self._stamps[path] = stamp
            changed = True
            try:
                self._groups[path] = parse_groups(Path(path).read_text(), path)
            except (OSError, UnicodeDecodeError, InvalidInput) as exc:
                log.warning("file_sd: keeping the last good targets of %s: %s", path, exc)
        return [g for p in sorted(self._groups) for g in self._groups[p]], changed
