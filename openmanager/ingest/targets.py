"""Scrape targets: discovered label sets turned into relabelled targets with a URL.

Mirrors Prometheus's `scrape.PopulateLabels`: discovered labels get `job`, `__address__`,
`__scheme__`, `__metrics_path__`, `__scrape_interval__`, `__scrape_timeout__` and
`__param_<name>`; `relabel_configs` run; a target without `__address__` or dropped by a rule
is a dropped target; `instance` defaults to the address; labels starting with `__` go away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from openmanager.config.scrape import ScrapeConfig
from openmanager.ingest.file_sd import TargetGroup
from openmanager.ingest.relabel import CompiledRule, relabel

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Target:
    """One scrape target: its final labels, what discovery said, and the URL to scrape."""

    labels: Pairs
    discovered: Pairs
    url: str

    @property
    def key(self) -> tuple[str, Pairs]:
        """Identity of the target within its pool (Prometheus keys by labels and URL)."""
        return self.url, self.labels


def static_groups(config: ScrapeConfig) -> list[TargetGroup]:
    """The `static_configs` of a job as target groups."""
    return [
        TargetGroup(tuple(s.targets), tuple(sorted(s.labels.items())), f"static:{i}")
        for i, s in enumerate(config.static_configs)
    ]


def discovered_labels(config: ScrapeConfig, address: str, group: TargetGroup) -> dict[str, str]:
    """The label set Prometheus shows as `discoveredLabels` for one address of a group."""
    labels = {
        "job": config.job_name,
        "__scrape_interval__": config.scrape_interval,
        "__scrape_timeout__": config.scrape_timeout,
        "__metrics_path__": config.metrics_path,
        "__scheme__": config.scheme,
    }
    for name, values in config.params.items():
        if values:
            labels[f"__param_{name}"] = values[0]
    labels.update(group.labels)
    labels["__address__"] = address
    return labels


def build_targets(
    config: ScrapeConfig, groups: Iterable[TargetGroup], rules: list[CompiledRule]
) -> tuple[list[Target], list[Pairs]]:
    """Active targets (deduplicated, in order) and the discovered labels of dropped ones."""
    active: dict[tuple[str, Pairs], Target] = {}
    dropped: list[Pairs] = []
    for group in groups:
        for address in group.targets:
            disc = discovered_labels(config, address, group)
            disc_pairs = tuple(sorted(disc.items()))
            final = relabel(disc, rules)
            if final is None or not final.get("__address__"):
                dropped.append(disc_pairs)
                continue
            target = Target(_public(final), disc_pairs, target_url(config, final))
            active.setdefault(target.key, target)
    return list(active.values()), dropped


def _public(labels: dict[str, str]) -> Pairs:
    out = {k: v for k, v in labels.items() if not k.startswith("__")}
    out.setdefault("instance", labels["__address__"])
    return tuple(sorted(out.items()))


def target_url(config: ScrapeConfig, labels: dict[str, str]) -> str:
    """scheme://address/path?params, with `__param_*` labels overriding the first values."""
    params = {k: list(v) for k, v in config.params.items()}
    for name, value in labels.items():
        if name.startswith("__param_"):
            key = name[len("__param_") :]
            params[key] = [value, *params.get(key, [])[1:]]
    scheme = labels.get("__scheme__", config.scheme)
    path = labels.get("__metrics_path__", config.metrics_path)
    query = urlencode([(k, v) for k, vs in sorted(params.items()) for v in vs])
    return f"{scheme}://{labels['__address__']}{path}" + (f"?{query}" if query else "")
