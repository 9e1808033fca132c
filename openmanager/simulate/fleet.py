"""The simulated fleet: servers with environment, role and declared service dependencies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openmanager.errors import InvalidInput, NotFound

ENVIRONMENTS = ("onpremise", "kubernetes", "aws", "gcp", "azure", "idc", "vdi")
ROLES = ("web", "database", "api", "worker", "gateway", "cache", "storage", "monitoring")
NODE_PORT = 9100
SERVICE_PORT = 8080


@dataclass(frozen=True)
class Server:
    """One simulated server; `dependencies` are the servers its service calls."""

    index: int
    name: str
    environment: str
    role: str
    dependencies: tuple[str, ...] = ()

    @property
    def instance(self) -> str:
        """The node exporter target (`instance` label of node_* series)."""
        return f"{self.name}:{NODE_PORT}"

    @property
    def service_instance(self) -> str:
        """The service target (`instance` label of service series)."""
        return f"{self.name}:{SERVICE_PORT}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JSON fleet endpoint."""
        return {
            "name": self.name,
            "environment": self.environment,
            "role": self.role,
            "instance": self.instance,
            "service_instance": self.service_instance,
            "dependencies": list(self.dependencies),
        }


DEFAULT_FLEET: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("web-server-01", "onpremise", "web", ("api-gateway-01", "db-primary-01", "cache-redis-01")),
    ("db-primary-01", "onpremise", "database", ("storage-nfs-01",)),
    ("storage-nfs-01", "onpremise", "storage", ()),
    ("monitor-sys-01", "onpremise", "monitoring", ("monitoring-elk-01",)),
    ("k8s-worker-01", "kubernetes", "worker", ("worker-queue-01", "db-primary-01")),
    ("k8s-api-01", "kubernetes", "api", ("db-primary-01", "cache-redis-01")),
    ("k8s-ingress-01", "kubernetes", "gateway", ("k8s-api-01",)),
    ("aws-web-lb-01", "aws", "gateway", ("gcp-compute-01",)),
    ("aws-db-rds-01", "aws", "database", ()),
    ("aws-cache-elasticache-01", "aws", "cache", ()),
    ("gcp-compute-01", "gcp", "api", ("aws-db-rds-01", "aws-cache-elasticache-01")),
    ("azure-vm-01", "azure", "web", ("api-gateway-01",)),
    ("idc-storage-01", "idc", "storage", ()),
    ("vdi-desktop-01", "vdi", "worker", ("idc-storage-01",)),
    ("db-replica-01", "onpremise", "database", ("db-primary-01",)),
    ("api-gateway-01", "onpremise", "gateway", ("k8s-api-01", "cache-redis-01")),
    ("cache-redis-01", "onpremise", "cache", ()),
    ("backup-server-01", "idc", "storage", ("storage-nfs-01", "db-replica-01")),
    ("worker-queue-01", "onpremise", "worker", ("db-primary-01", "cache-redis-01")),
    ("monitoring-elk-01", "onpremise", "monitoring", ("idc-storage-01",)),
)
"""The fleet the product has always shipped: (name, environment, role, dependencies)."""

ROLE_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "web": ("gateway", "database", "cache"),
    "gateway": ("api", "cache"),
    "api": ("database", "cache"),
    "worker": ("database", "cache"),
    "database": ("storage",),
    "storage": (),
    "cache": (),
    "monitoring": ("storage",),
}
"""Whom a generated server of each role calls (web -> gateway/api -> database -> storage)."""


class Fleet:
    """An ordered list of servers with lookups by name and by dependency."""

    def __init__(self, servers: Sequence[Server]) -> None:
        self.servers: tuple[Server, ...] = tuple(servers)
        self._by_name = {s.name: s for s in self.servers}
        deps: dict[str, list[str]] = {s.name: [] for s in self.servers}
        for s in self.servers:
            for d in s.dependencies:
                deps[d].append(s.name)
        self._dependents = {k: tuple(v) for k, v in deps.items()}

    def __len__(self) -> int:
        return len(self.servers)

    def __iter__(self) -> Iterator[Server]:
        return iter(self.servers)

    def get(self, name: str) -> Server:
        """The server called `name`; NotFound (listing a few names) otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            sample = ", ".join(s.name for s in self.servers[:5])
            raise NotFound(f"no server named {name!r} in the fleet (e.g. {sample})") from None

    def has(self, name: str) -> bool:
        """Whether the fleet contains a server called `name`."""
        return name in self._by_name

    def dependents(self, name: str) -> tuple[Server, ...]:
        """Servers whose service calls `name` (where a fault on `name` is felt)."""
        return tuple(self._by_name[n] for n in self._dependents.get(name, ()))

    def dependencies(self, name: str) -> tuple[Server, ...]:
        """Servers that `name` calls."""
        return tuple(self._by_name[n] for n in self.get(name).dependencies)

    def by_role(self, role: str) -> tuple[Server, ...]:
        """All servers with the given role, in fleet order."""
        return tuple(s for s in self.servers if s.role == role)


def fleet_from_dicts(items: Sequence[Mapping[str, Any]]) -> Fleet:
    """A custom fleet from plain data ({name, environment, role, dependencies}), validated."""
    names = [str(d.get("name", "")) for d in items]
    if len(set(names)) != len(names) or "" in names:
        raise InvalidInput("fleet servers need unique, non-empty names")
    servers = []
    for i, d in enumerate(items):
        env, role = d.get("environment"), d.get("role")
        if env not in ENVIRONMENTS:
            raise InvalidInput(
                f"server {names[i]!r}: environment {env!r} is not one of {ENVIRONMENTS}"
            )
        if role not in ROLES:
            raise InvalidInput(f"server {names[i]!r}: role {role!r} is not one of {ROLES}")
        deps = tuple(str(x) for x in d.get("dependencies", ()))
        unknown = [x for x in deps if x not in names or x == names[i]]
        if unknown:
            raise InvalidInput(f"server {names[i]!r}: unknown dependencies {unknown}")
        servers.append(Server(i, names[i], str(env), str(role), deps))
    return Fleet(servers)


def build_fleet(size: int = 20) -> Fleet:
    """The default named fleet, truncated below 20 or extended with generated servers above it."""
    named = DEFAULT_FLEET[: min(size, len(DEFAULT_FLEET))]
    present = {n for n, _, _, _ in named}
    servers = [
        Server(i, n, env, role, tuple(d for d in deps if d in present))
        for i, (n, env, role, deps) in enumerate(named)
    ]
    extra = range(len(DEFAULT_FLEET), size)
    roles = [ROLES[i % len(ROLES)] for i in extra]
    envs = [ENVIRONMENTS[(i // len(ROLES)) % len(ENVIRONMENTS)] for i in extra]
    names = [f"{r}-{e}-{i + 1:05d}" for i, r, e in zip(extra, roles, envs, strict=True)]
    by_role: dict[str, list[str]] = {r: [] for r in ROLES}
    for s in servers:
        by_role[s.role].append(s.name)
    for n, r in zip(names, roles, strict=True):
        by_role[r].append(n)
    turn = dict.fromkeys(ROLES, 0)
    for i, n, r, e in zip(extra, names, roles, envs, strict=True):
        deps = []
        for dr in ROLE_DEPENDENCIES[r]:
            pool = by_role[dr]
            if pool:  # round robin over the role, so every server of it has callers
                deps.append(pool[turn[dr] % len(pool)])
                turn[dr] += 1
        servers.append(Server(i, n, e, r, tuple(d for d in deps if d != n)))
    return Fleet(servers)
