"""Declared service dependencies (who calls whom) and the reach of a failure along them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache


class Topology:
    """A call graph: `dependencies[a]` are the servers `a` calls, so a fault on them is felt by `a`."""

    def __init__(self, dependencies: Mapping[str, Sequence[str]] | None = None) -> None:
        deps: dict[str, tuple[str, ...]] = {}
        for name, callees in (dependencies or {}).items():
            deps[name] = tuple(dict.fromkeys([*deps.get(name, ()), *callees]))
        callers: dict[str, list[str]] = {}
        for name, callees in deps.items():
            for c in callees:
                callers.setdefault(c, []).append(name)
        self.dependencies = deps
        self._callers = {k: tuple(v) for k, v in callers.items()}
        self.affected_by = cache(self._affected_by)

    @classmethod
    def merged(cls, *graphs: Mapping[str, Sequence[str]]) -> Topology:
        """One topology from several declarations (config and the simulated fleet)."""
        out: dict[str, list[str]] = {}
        for g in graphs:
            for k, v in g.items():
                out.setdefault(k, []).extend(v)
        return cls(out)

    def servers(self) -> set[str]:
        """Every server named in the graph."""
        return set(self.dependencies) | set(self._callers)

    def callers(self, server: str) -> tuple[str, ...]:
        """Servers that call `server` directly."""
        return self._callers.get(server, ())

    def _affected_by(self, server: str) -> dict[str, int]:
        """Servers a fault on `server` propagates to (callers, their callers...), with hop counts."""
        hops = {server: 0}
        frontier = [server]
        while frontier:
            nxt = []
            for s in frontier:
                for c in self.callers(s):
                    if c not in hops:
                        hops[c] = hops[s] + 1
                        nxt.append(c)
            frontier = nxt
        del hops[server]
        return hops

    def explains(self, server: str, others: Iterable[str]) -> float:
        """Share of `others` (excluding `server`) that a fault on `server` can reach; 0 if none."""
        rest = [o for o in others if o != server]
        if not rest:
            return 0.0
        reach = self.affected_by(server)
        return sum(1 for o in rest if o in reach) / len(rest)

    def related(self, a: str, b: str) -> bool:
        """Whether a fault on one of the two can reach the other."""
        return a == b or b in self.affected_by(a) or a in self.affected_by(b)
