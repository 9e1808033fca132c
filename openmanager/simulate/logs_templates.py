"""Log line templates: everyday lines per role and system, and the lines each fault kind causes.

A template is (level, source, render); `render(r, c)` draws its fields from `r` (a seeded
random.Random) and the context `c` (server, peer, progress through the episode).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from openmanager.simulate.fleet import Server


@dataclass(frozen=True)
class Ctx:
    """What a template may mention: the server, a related peer, progress in [0, 1]."""

    server: Server
    peer: str
    progress: float = 0.0

    @property
    def service(self) -> str:
        """The systemd unit of the server's main service."""
        return _SERVICE.get(self.server.role, "app")


Render = Callable[[random.Random, Ctx], str]
Template = tuple[str, str, Render]

_SERVICE = {
    "web": "nginx", "database": "postgresql", "api": "api-server", "worker": "worker",
    "gateway": "gateway", "cache": "redis-server", "storage": "nfs-server",
    "monitoring": "prometheus",
}  # fmt: skip
_PATHS = ("/", "/login", "/api/v1/orders", "/api/v1/users/me", "/static/app.js", "/cart",
          "/api/v1/search?q=shoes", "/healthz", "/api/v1/payments", "/images/logo.png")  # fmt: skip
_TABLES = ("orders", "users", "sessions", "payments", "inventory", "audit_log")
_JOBS = ("send_email", "resize_image", "reindex_search", "sync_inventory", "bill_customer")
_USERS = ("deploy", "ops", "backup", "alice", "bob")


def _ip(r: random.Random) -> str:
    return f"10.{r.randint(0, 3)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def _pid(r: random.Random) -> int:
    return r.randint(1000, 65000)


def _get(r: random.Random) -> str:
    return r.choice(_PATHS)


def _query(r: random.Random) -> str:
    t = r.choice(_TABLES)
    return r.choice(
        (f"SELECT * FROM {t} WHERE id = $1", f"UPDATE {t} SET updated_at = now() WHERE id = $1",
         f"SELECT count(*) FROM {t} WHERE created_at > $1", f"INSERT INTO {t} VALUES ($1, $2, $3)")
    )  # fmt: skip


def _access(r: random.Random, c: Ctx) -> str:
    status = r.choices((200, 301, 304, 404), (90, 3, 5, 2))[0]
    return (f'{_ip(r)} - - "GET {_get(r)} HTTP/1.1" {status} {r.randint(200, 90000)} '
            f'"-" "Mozilla/5.0" rt={r.uniform(0.002, 0.09):.3f}')  # fmt: skip


ROLE_TEMPLATES: dict[str, list[tuple[float, Template]]] = {
    "web": [
        (90, ("info", "nginx", _access)),
        (1, ("warning", "nginx", lambda r, c: f"client {_ip(r)} closed keepalive connection")),
    ],
    "api": [
        (90, ("info", "app", lambda r, c: f"INFO request method=GET path={_get(r)} status=200 "
                                          f"duration_ms={r.randint(3, 80)}")),
        (8, ("info", "app", lambda r, c: f"INFO request method=POST path=/api/v1/orders status=201 "
                                         f"duration_ms={r.randint(10, 140)}")),
        (1, ("warning", "app", lambda r, c: f"WARN retrying call to {c.peer} (attempt 2 of 3)")),
    ],
    "database": [
        (60, ("info", "postgresql", lambda r, c: f"LOG:  checkpoint complete: wrote {r.randint(20, 900)} "
                                                 f"buffers; write={r.uniform(0.1, 3):.3f} s")),
        (30, ("info", "postgresql", lambda r, c: f'LOG:  automatic vacuum of table "app.public.'
                                                 f'{r.choice(_TABLES)}": index scans: 1')),
        (10, ("info", "postgresql", lambda r, c: f"LOG:  connection authorized: user=app database=app "
                                                 f"host={_ip(r)}")),
    ],
    "worker": [
        (80, ("info", "worker", lambda r, c: f"INFO job {r.choice(_JOBS)} id={r.getrandbits(32):08x} "
                                             f"done in {r.randint(40, 4000)} ms")),
        (2, ("warning", "worker", lambda r, c: f"WARN job {r.choice(_JOBS)} retried after transient "
                                               f"error from {c.peer}")),
    ],
    "gateway": [
        (90, ("info", "gateway", lambda r, c: f"INFO route {_get(r)} -> {c.peer} {r.randint(2, 60)}ms")),
        (1, ("warning", "gateway", lambda r, c: f"WARN rate limit hit for client {_ip(r)}")),
    ],
    "cache": [
        (70, ("info", "redis", lambda r, c: f"{r.randint(10, 10000)} changes in 300 seconds. Saving...")),
        (30, ("info", "redis", lambda r, c: "Background saving terminated with success")),
    ],
    "storage": [
        (80, ("info", "nfs", lambda r, c: f"rpc.mountd[{_pid(r)}]: authenticated mount request from "
                                          f"{_ip(r)}:{r.randint(600, 1023)} for /export/data")),
        (20, ("info", "nfs", lambda r, c: f"nfsd: exported /export/data, {r.randint(5, 60)} clients")),
    ],
    "monitoring": [
        (90, ("info", "prometheus", lambda r, c: f'level=info component=tsdb msg="Head GC completed" '
                                                 f"duration={r.randint(2, 90)}ms")),
        (10, ("info", "prometheus", lambda r, c: 'level=info component=tsdb msg="Compaction done"')),
    ],
}  # fmt: skip

SYSTEM_TEMPLATES: list[tuple[float, Template]] = [
    (40, ("info", "syslog", lambda r, c: f"CRON[{_pid(r)}]: (root) CMD (run-parts /etc/cron.hourly)")),
    (25, ("info", "syslog", lambda r, c: f"sshd[{_pid(r)}]: Accepted publickey for {r.choice(_USERS)} "
                                         f"from {_ip(r)} port {r.randint(30000, 60000)} ssh2")),
    (15, ("info", "syslog", lambda r, c: "systemd[1]: Starting Daily apt download activities...")),
    (10, ("info", "syslog", lambda r, c: "systemd[1]: Finished logrotate.service.")),
    (6, ("warning", "syslog", lambda r, c: f"sshd[{_pid(r)}]: Invalid user admin from {_ip(r)} "
                                           f"port {r.randint(30000, 60000)}")),
    (3, ("warning", "syslog", lambda r, c: f"systemd-timesyncd[{_pid(r)}]: Timed out waiting for "
                                           "reply from 10.0.0.1:123 (ntp)")),
    (1, ("error", "syslog", lambda r, c: f"sshd[{_pid(r)}]: error: kex_exchange_identification: "
                                         "Connection closed by remote host")),
]  # fmt: skip


def _pct(lo: float, hi: float) -> Callable[[Ctx], int]:
    return lambda c: round(lo + (hi - lo) * c.progress)


_FULL, _HEAP, _CACHE = _pct(82, 99), _pct(61, 98), _pct(70, 97)

FAULT_TEMPLATES: dict[str, list[tuple[float, Template]]] = {
    "disk_filling": [
        (1, ("warning", "syslog", lambda r, c: f"disk-monitor: filesystem /data is {_FULL(c)}% full "
                                               f"(/dev/vda2)")),
    ],
    "slow_query": [
        (3, ("warning", "postgresql", lambda r, c: f"LOG:  duration: {r.uniform(1200, 9000):.3f} ms  "
                                                   f"statement: {_query(r)}")),
        (1, ("warning", "postgresql", lambda r, c: "LOG:  checkpoints are occurring too frequently "
                                                   f"({r.randint(8, 25)} seconds apart)")),
    ],
    "enospc": [
        (3, ("error", "postgresql", lambda r, c: f'ERROR:  could not extend file "base/16384/'
                                                 f'{r.randint(16000, 99999)}": No space left on device')),
        (1, ("error", "syslog", lambda r, c: f"rsyslogd[{_pid(r)}]: file '/data/log/app.log': write "
                                             "error - No space left on device")),
        (1, ("critical", "postgresql", lambda r, c: "PANIC:  could not write to file \"pg_wal/xlogtemp\": "
                                                    "No space left on device")),
    ],
    "upstream_slow": [
        (3, ("warning", "app", lambda r, c: f"WARN slow request {_get(r)} took {r.randint(900, 6000)} ms "
                                            f"(waiting on {c.peer})")),
        (1, ("error", "app", lambda r, c: f"ERROR query to {c.peer} timed out after 5000 ms")),
    ],
    "mem_pressure": [
        (1, ("warning", "gateway", lambda r, c: f"WARN heap usage at {_HEAP(c)}% of limit "
                                                f"(live objects {r.randint(2, 9)}M)")),
    ],
    "gc_thrash": [
        (3, ("warning", "gateway", lambda r, c: f"WARN GC pause {r.randint(300, 2500)} ms; "
                                                f"{r.randint(35, 80)}% of time in garbage collection")),
    ],
    "cache_full": [
        (1, ("warning", "redis", lambda r, c: f"WARNING used_memory at {_CACHE(c)}% of maxmemory, "
                                              f"evicted {r.randint(100, 9000)} keys")),
    ],
    "net_flood": [
        (2, ("warning", "syslog", lambda r, c: "kernel: nf_conntrack: nf_conntrack: table full, "
                                               "dropping packet")),
        (1, ("warning", "syslog", lambda r, c: f"kernel: eth0: RX ring overflow, {r.randint(50, 4000)} "
                                               "packets dropped")),
    ],
    "net_timeout": [
        (2, ("error", "syslog", lambda r, c: f"kernel: nfs: server {c.peer} not responding, timed out")),
        (2, ("error", "app", lambda r, c: f"ERROR read from {c.peer} timed out after 5000 ms "
                                          f"(connection timeout)")),
    ],
    "cpu_hog": [
        (1, ("warning", "syslog", lambda r, c: f"watchdog: process backup-compress (pid {_pid(r)}) at "
                                               f"{r.randint(92, 100)}% CPU for {r.randint(60, 900)} s")),
        (2, ("warning", "app", lambda r, c: f"WARN request {_get(r)} took {r.randint(400, 2500)} ms "
                                            "(run queue saturated)")),
    ],
    "service_down": [
        (1, ("error", "syslog", lambda r, c: "healthcheck: GET http://127.0.0.1:8080/healthz failed: "
                                             "connection refused")),
    ],
    "upstream_5xx": [
        (1, ("error", "app", lambda r, c: f"ERROR upstream {c.peer} returned 502 Bad Gateway for "
                                          f"{_get(r)}")),
    ],
}  # fmt: skip

ONCE_TEMPLATES: dict[str, list[Template]] = {
    "oom_kill": [
        ("critical", "syslog", lambda r, c: f"kernel: Out of memory: Killed process {_pid(r)} "
                                            f"({c.service}) total-vm:{r.randint(6, 9)}123456kB, "
                                            f"anon-rss:{r.randint(5, 8)}654321kB, oom_score_adj:0"),
        ("error", "syslog", lambda r, c: f"systemd[1]: {c.service}.service: Main process exited, "
                                         "code=killed, status=9/KILL"),
        ("error", "syslog", lambda r, c: f"systemd[1]: {c.service}.service: Failed with result "
                                         "'oom-kill'."),
    ],
    "crash": [
        ("error", "syslog", lambda r, c: f"kernel: {c.service}[{_pid(r)}]: segfault at 0 ip "
                                         f"{r.getrandbits(48):012x} sp {r.getrandbits(48):012x} "
                                         f"error 4 in {c.service}"),
        ("error", "syslog", lambda r, c: f"systemd[1]: {c.service}.service: Main process exited, "
                                         "code=dumped, status=11/SEGV"),
    ],
    "restart": [
        ("info", "syslog", lambda r, c: f"systemd[1]: {c.service}.service: Scheduled restart job, "
                                        "restart counter is at 1."),
        ("info", "syslog", lambda r, c: f"systemd[1]: Started {c.service}.service."),
        ("info", "app", lambda r, c: f"INFO ==== {c.service} 2.{r.randint(1, 9)}.{r.randint(0, 20)} "
                                     f"starting (pid {_pid(r)}), listening on :8080 ===="),
    ],
}  # fmt: skip
