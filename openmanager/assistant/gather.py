"""Gathering evidence for a question through the query engine, alerts, anomalies and runbooks.

The world comes in as a `Sources` bundle of callables, so the gatherer never reaches into
storage or services: the platform passes its query engine and live state, tests pass their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from openmanager.assistant.evidence import Evidence, Fact
from openmanager.assistant.language import detect_language
from openmanager.assistant.resolve import resolve
from openmanager.assistant.topics import TOPICS, Topic, selector, topic_of_alert
from openmanager.promql.engine import QueryResult
from openmanager.samples import labels_get

SERVERS_EXPR = 'group by (server) ({__name__=~"node_load1|openmanager_service_up"})'
METRICS_EXPR = 'group by (__name__) ({__name__=~".+"})'
EXHAUSTION_EXPR = 'min by (server, mountpoint, resource) (openmanager_forecast_exhaustion_seconds{bound="estimate",SEL})'
DEPENDENCY_DEPTH = 2
PASSAGES = 2


@dataclass
class Sources:
    """What the gatherer may look at; everything but `query` is optional."""

    query: Callable[[str, int], QueryResult]
    alerts: Callable[[], list[dict[str, Any]]] = lambda: []
    anomalies: Callable[[], list[dict[str, Any]]] = lambda: []
    incidents: Callable[[Sequence[str]], list[dict[str, Any]]] = lambda servers: []
    dependencies: Callable[[str], Sequence[str]] = lambda server: ()
    search: Callable[[str, int], list[dict[str, Any]]] = lambda query, k: []
    lookback_s: int = 3600
    extra: dict[str, Any] = field(default_factory=dict)


def _series_values(result: QueryResult) -> list[tuple[dict[str, str], float]]:
    out = []
    for s in result.series:
        if len(s.values) and math.isfinite(float(s.values[-1])):
            out.append(({k: v for k, v in s.labels if k != "__name__"}, float(s.values[-1])))
    return out


def _label_set(result: QueryResult, name: str) -> list[str]:
    return sorted({labels_get(s.labels, name) for s in result.series} - {""})


class Gatherer:
    """Turns a question into Evidence (no narration)."""

    def __init__(self, sources: Sources) -> None:
        self.src = sources

    def known_servers(self, now_ms: int) -> list[str]:
        """Server names that report metrics now."""
        return _label_set(self.src.query(SERVERS_EXPR, now_ms), "server")

    def gather(self, question: str, now_ms: int) -> Evidence:
        """Resolve the question, then collect figures, alerts, anomalies, incidents and runbooks."""
        servers = self.known_servers(now_ms)
        metrics = (
            _label_set(self.src.query(METRICS_EXPR, now_ms), "__name__") if "_" in question else []
        )
        res = resolve(question, servers, metrics)
        ev = Evidence(question, detect_language(question), now_ms, res, known_servers=len(servers))
        if res.unknown and not res.servers and any(u.kind == "server" for u in res.unknown):
            return ev  # never answer about a server that does not exist
        depth = self._with_dependencies(res.servers, ev)
        scope = list(depth) if res.servers else None
        asked = res.topics or list(TOPICS)
        for topic in TOPICS:
            self._measure(ev, topic, scope, depth, shown=topic in asked)
        self._alerts(ev, scope)
        self._anomalies(ev, scope)
        self._forecasts(ev, scope)
        self._incidents(ev, scope or servers)
        ev.findings.sort(key=lambda f: self._rank(f, depth, ev.rca_rank))
        self._passages(ev)
        return ev

    def _with_dependencies(self, servers: list[str], ev: Evidence) -> dict[str, int]:
        depth = {s: 0 for s in servers}
        for s in servers:
            frontier, seen = [s], []
            for level in range(1, DEPENDENCY_DEPTH + 1):
                nxt = [d for f in frontier for d in self.src.dependencies(f) if d not in depth]
                for d in nxt:
                    depth[d] = level
                    seen.append(d)
                frontier = nxt
            if seen:
                ev.related[s] = seen
        return depth

    @staticmethod
    def _rank(
        f: Fact, depth: dict[str, int], rca: dict[tuple[str, str], int]
    ) -> tuple[int, int, int, int, float]:
        """Abnormal resources measured now first (in root-cause-ranking order where ranked),
        then causes only the ranking names, then symptoms; nearer servers first."""
        by_rca = rca.get((f.server, f.topic), len(rca))
        order = next(i for i, t in enumerate(TOPICS) if t.name == f.topic) if f.topic else 99
        kind = 1 if f.kind == "cause" else 0 if _topic(f.topic).kind == "resource" else 2
        return (kind, by_rca, depth.get(f.server, 0), order, -f.severity)

    def _measure(
        self,
        ev: Evidence,
        topic: Topic,
        scope: list[str] | None,
        depth: dict[str, int],
        shown: bool,
    ) -> None:
        now = ev.time_ms
        current = _series_values(self.src.query(topic.promql(selector(scope)), now))
        if not current:
            return
        lb = self.src.lookback_s
        base_expr = f"avg_over_time(({topic.promql(selector(scope))})[{lb}s:1m] offset {lb}s)"
        base = {_key(lbl): v for lbl, v in _series_values(self.src.query(base_expr, now))}
        for labels, value in current:
            server = labels.get("server", "")
            baseline = base.get(_key(labels))
            severity = topic.abnormal(value, baseline)
            asked_here = scope is None or depth.get(server, 1) == 0
            if not (severity > 1 or (shown and asked_here and scope is not None)):
                continue
            sel = selector([server]) + "".join(
                f',{k}="{v}"' for k, v in sorted(labels.items()) if k != "server"
            )
            fact = ev.cite(Fact("", "value", server, topic.name, value, topic.promql(sel), now,
                                labels, severity=severity))  # fmt: skip
            if baseline is not None:
                b = ev.cite(Fact("", "baseline", server, topic.name, baseline,
                                 f"avg_over_time(({topic.promql(sel)})[{lb}s:1m] offset {lb}s)",
                                 now, labels))  # fmt: skip
                fact.baseline_ref = b.ref
                fact.change = value / baseline if baseline else None
            if severity > 1:
                ev.findings.append(fact)

    def _alerts(self, ev: Evidence, scope: list[str] | None) -> None:
        for alert in self.src.alerts():
            labels = alert.get("labels", {})
            server = labels.get("server") or labels.get("instance", "").split(":")[0]
            if scope is not None and server not in scope:
                continue
            name = labels.get("alertname", "")
            topic = topic_of_alert(name)
            try:
                value = float(alert.get("value", "nan"))
            except ValueError:
                value = math.nan
            since = alert.get("activeAt", "")
            ev.cite(Fact("", "alert", server, topic.name if topic else "", value,
                         f"alert {name} ({alert.get('state', '')} since {since})", ev.time_ms,
                         labels, note=alert.get("annotations", {}).get("summary", "")))  # fmt: skip

    def _anomalies(self, ev: Evidence, scope: list[str] | None) -> None:
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        horizon = ev.time_ms / 1000 - self.src.lookback_s
        for a in self.src.anomalies():
            server = a.get("series", {}).get("server", "")
            if (scope is not None and server not in scope) or a.get("window_end", 0) < horizon:
                continue
            key = (server, a.get("check", ""))
            if key not in latest or a["window_end"] > latest[key]["window_end"]:
                latest[key] = a
        for (server, check), a in sorted(latest.items()):
            ev.cite(Fact("", "anomaly", server, _check_topic(check), float(a["observed"]),
                         a["promql"], int(a["window_end"] * 1000), a.get("series", {}),
                         severity=float(a.get("score", 0)),
                         note=f"{check}: expected {a['expected']:.4g}, score {a['score']:.2f}"))  # fmt: skip

    def _forecasts(self, ev: Evidence, scope: list[str] | None) -> None:
        servers = {f.server for f in ev.findings if f.topic in ("disk", "memory")}
        if not servers:
            return
        expr = EXHAUSTION_EXPR.replace("SEL", selector(sorted(servers)))
        for labels, seconds in _series_values(self.src.query(expr, ev.time_ms)):
            topic = "disk" if labels.get("resource") == "disk" else "memory"
            sel = selector([labels.get("server", "")]) + "".join(
                f',{k}="{v}"' for k, v in sorted(labels.items()) if k != "server"
            )
            ev.cite(Fact("", "forecast", labels.get("server", ""), topic, seconds,
                         EXHAUSTION_EXPR.replace("SEL", sel), ev.time_ms, labels))  # fmt: skip

    def _incidents(self, ev: Evidence, servers: Iterable[str]) -> None:
        """Open incidents on these servers; their ranked causes are cited and order the findings."""
        ev.incidents = self.src.incidents(list(servers))
        for inc in ev.incidents:
            for place, cause in enumerate(inc.get("causes", [])[:3]):
                topic = _metric_topic(cause.get("metric", ""))
                key = (cause.get("server", ""), topic)
                if key in ev.rca_rank:
                    continue  # the same cause ranked in an earlier incident
                ev.rca_rank[key] = len(ev.rca_rank)
                evidence = cause.get("evidence") or [{}]
                first = evidence[0] if isinstance(evidence, list) else evidence
                f = ev.cite(Fact("", "cause", key[0], topic, float(cause.get("score", math.nan)),
                                 first.get("promql", ""), ev.time_ms,
                                 {"incident": str(inc.get("id", ""))},
                                 severity=float(cause.get("score", 0.0)),
                                 note=cause.get("signal") or cause.get("metric", "")))  # fmt: skip
                measured = any((v.server, v.topic) == key for v in ev.findings)
                if place == 0 and not measured:
                    ev.findings.append(f)  # the incident's top cause, though not measured above

    def _passages(self, ev: Evidence) -> None:
        words = [_topic(f.topic).runbook_query for f in ev.findings[:2] if f.topic]
        words += [f.source.split()[1] for f in ev.facts if f.kind == "alert"][:2]
        if not words and ev.resolution.topics:
            words = [t.runbook_query for t in ev.resolution.topics[:2]]
        ev.passages = self.src.search(" ".join(words), PASSAGES)


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _topic(name: str) -> Topic:
    return next((t for t in TOPICS if t.name == name), TOPICS[-1])


def _check_topic(check: str) -> str:
    return {"cpu": "cpu", "memory_used": "memory", "memory_leak": "memory", "disk_fill": "disk",
            "network_rx": "network"}.get(check, "")  # fmt: skip


def _metric_topic(metric: str) -> str:
    from openmanager.assistant.resolve import METRIC_TOPICS

    return next((name for part, name in METRIC_TOPICS if part in metric), "")
