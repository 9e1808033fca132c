"""The routing tree: each node with inherited options, and Alertmanager's matching walk."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from openmanager.notify.config import RouteConfig
from openmanager.notify.matchers import Matcher, matches_all

DEFAULT_GROUP_WAIT_S = 30.0
DEFAULT_GROUP_INTERVAL_S = 300.0
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600.0


@dataclass
class Route:
    """A routing node with every option resolved (children inherit from parents)."""

    receiver: str
    group_by: tuple[str, ...]
    group_by_all: bool
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float
    mute_time_intervals: tuple[str, ...]
    active_time_intervals: tuple[str, ...]
    key: str
    routes: list[Route] = field(default_factory=list)

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The nodes an alert goes to: deepest matching children, honouring `continue`."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            hits = child.match(labels)
            found += hits
            if hits and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels an alert's group is keyed by on this route."""
        if self.group_by_all:
            return dict(labels)
        return {k: labels[k] for k in self.group_by if k in labels}

    def walk(self) -> list[Route]:
        """This node and all below it, depth first."""
        out = [self]
        for child in self.routes:
            out += child.walk()
        return out


def build_route(cfg: RouteConfig, parent: Route | None = None, index: int = 0) -> Route:
    """Resolve a configured tree into Routes (defaults: 30s wait, 5m interval, 4h repeat)."""
    matcher_text = "{" + ",".join(str(m) for m in cfg.matchers) + "}"
    key = matcher_text if parent is None else f"{parent.key}/{matcher_text}"
    if parent is not None:
        key += f"/{index}"
    route = Route(
        receiver=cfg.receiver or (parent.receiver if parent else ""),
        group_by=cfg.group_by if cfg.group_by is not None else (parent.group_by if parent else ()),
        group_by_all=cfg.group_by_all
        if cfg.group_by is not None
        else (parent.group_by_all if parent else False),
        matchers=cfg.matchers,
        continue_=cfg.continue_,
        group_wait_s=_pick(cfg.group_wait_s, parent, "group_wait_s", DEFAULT_GROUP_WAIT_S),
        group_interval_s=_pick(
            cfg.group_interval_s, parent, "group_interval_s", DEFAULT_GROUP_INTERVAL_S
        ),
        repeat_interval_s=_pick(
            cfg.repeat_interval_s, parent, "repeat_interval_s", DEFAULT_REPEAT_INTERVAL_S
        ),
        mute_time_intervals=cfg.mute_time_intervals,
        active_time_intervals=cfg.active_time_intervals,
        key=key,
    )
    route.routes = [build_route(c, route, i) for i, c in enumerate(cfg.routes)]
    return route


def _pick(value: float | None, parent: Route | None, attr: str, default: float) -> float:
    if value is not None:
        return value
    return float(getattr(parent, attr)) if parent is not None else default


def group_key(route: Route, group_labels: Mapping[str, str]) -> str:
    """Alertmanager-style group key: route key, then the group labels."""
    return f"{route.key}:{json.dumps(dict(sorted(group_labels.items())), separators=(',', ':'))}"
