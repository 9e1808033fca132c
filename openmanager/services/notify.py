"""The notification service: takes the rule engine's alerts (AlertSender) and runs notify.

Routes and groups them by the Alertmanager-dialect file, forwards them to real Alertmanagers
when configured, keeps silences and alert history in a small SQLite file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openmanager.config.settings import NotifySettings
from openmanager.errors import NotFound
from openmanager.notify.config import NotifyConfig, default_config, load_config
from openmanager.notify.delivery import Delivery
from openmanager.notify.dispatch import Dispatcher
from openmanager.notify.flap import FlapDetector
from openmanager.notify.maintenance import make_window
from openmanager.notify.matchers import Matcher
from openmanager.notify.model import Alert, AlertLike
from openmanager.notify.receivers.alertmanager import AlertmanagerForwarder
from openmanager.notify.receivers.base import Integration, Message
from openmanager.notify.receivers.email import EmailIntegration
from openmanager.notify.receivers.slack import SlackIntegration
from openmanager.notify.receivers.webhook import WebhookIntegration
from openmanager.notify.silences import Silence, expired, find, new_silence
from openmanager.notify.store import NotifyStore, SqliteNotifyStore
from openmanager.observability.dependencies import Dependencies
from openmanager.resilience import RetryPolicy
from openmanager.security.secrets import redact_yaml_text
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

TICK_INTERVAL_S = 1.0
"""How often groups are checked for a due flush."""

PRUNE_INTERVAL_S = 3600.0
"""How often history older than `history_retention` is deleted."""


class _ForwardIntegration:
    """Adapter so Alertmanager forwarding runs on a Delivery worker with retries."""

    send_resolved = True

    def __init__(self, forwarder: AlertmanagerForwarder) -> None:
        self.forwarder = forwarder
        self.kind = "alertmanager"

    def notify(self, message: Message) -> None:
        self.forwarder.post(message.alerts)


def integrations_for(cfg: NotifyConfig, timeout_s: float = 10.0) -> dict[str, list[Integration]]:
    """The deliverable integrations of each receiver, in file order (`timeout_s` per call)."""
    out: dict[str, list[Integration]] = {}
    for name, rc in cfg.receivers.items():
        items: list[Integration] = [WebhookIntegration(w, timeout_s) for w in rc.webhooks]
        items += [SlackIntegration(s, timeout_s) for s in rc.slacks]
        items += [EmailIntegration(e, timeout_s) for e in rc.emails]
        out[name] = items
        if rc.unsupported:
            log.warning(
                "receiver %s: integrations not delivered by OpenManager: %s", name, rc.unsupported
            )
    return out


class NotifyService:
    """Implements `openmanager.rules.outbound.AlertSender`; owns dispatcher, delivery and store."""

    def __init__(
        self,
        settings: NotifySettings,
        data_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        store: NotifyStore | None = None,
        dependencies: Dependencies | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.config = (
            load_config(settings.config_file) if settings.config_file else default_config()
        )
        path = settings.history_file or (Path(data_dir) / "notify.db")
        self.store: NotifyStore = store if store is not None else SqliteNotifyStore(path)
        timeout_s = parse_duration(settings.timeout) / 1000
        self.delivery = Delivery(
            RetryPolicy(
                settings.retry_attempts,
                parse_duration(settings.retry_backoff) / 1000,
                parse_duration(settings.retry_max_backoff) / 1000,
                timeout_s,
            ),
            clock,
            dependencies=dependencies,
            breaker_threshold=settings.breaker_threshold,
            breaker_reset_s=parse_duration(settings.breaker_reset) / 1000,
        )
        self.integrations = integrations_for(self.config, timeout_s)
        for name, items in self.integrations.items():
            for i, integration in enumerate(items):
                self.delivery.register(name, i, integration)
        self.forwarders = [AlertmanagerForwarder(u, timeout_s) for u in settings.alertmanager_urls]
        for i, fwd in enumerate(self.forwarders):
            self.delivery.register("alertmanager", i, _ForwardIntegration(fwd))
        windows = [
            make_window(w.name, w.cron, parse_duration(w.duration) / 1000, w.matchers, w.timezone)
            for w in settings.maintenance_windows
        ]
        self.flaps = FlapDetector(
            settings.flap_threshold, parse_duration(settings.flap_window) / 1000
        )
        self.dispatcher = Dispatcher(
            self.config,
            self.integrations,
            self.delivery.submit,
            self.store,
            silences=self.store.silences,
            flaps=self.flaps,
            maintenance=windows,
            external_url=settings.external_url,
        )
        self._closed = False
        self._leading = False
        """True once this instance, leading, has taken in the stored notification log."""
        self._pruned_at = 0.0
        self.retention_s = parse_duration(settings.history_retention) / 1000
        self.started_at = clock()
        self.active: Callable[[], bool] = lambda: True
        """Flush groups only while this returns True (the cluster's leader; always True alone)."""

    # AlertSender
    def send(self, alerts: Sequence[AlertLike]) -> None:
        """Take a batch of posted alerts: forward them and feed the dispatcher."""
        now = self.clock()
        converted = [
            Alert.from_postable(a, now, self.config.resolve_timeout_s) for a in alerts if a.labels
        ]
        if not converted:
            return
        for i in range(len(self.forwarders)):
            message = Message("alertmanager", "", {}, converted, now)
            self.delivery.submit("alertmanager", i, message, lambda ok, n, err: None)
        self.dispatcher.ingest(converted, now)

    def tick(self) -> None:
        """Flush due groups (a scheduler job, every second); prune old history hourly."""
        if not self.active():
            self._leading = False
            return
        if not self._leading:  # just became the leader: learn what was notified before us
            try:
                taken = self.dispatcher.reload_log()
            except Exception as exc:  # the store is away: go on with the log we have
                log.warning("notify: could not reload the notification log: %s", exc)
            else:
                self._leading = True
                if taken:
                    log.info("notify: took over %d notification-log entries", taken)
        now = self.clock()
        self.dispatcher.tick(now)
        if now - self._pruned_at >= PRUNE_INTERVAL_S:
            self._pruned_at = now
            self.prune(now)

    def prune(self, now: float) -> int:
        """Forget resolved history, log entries and silences older than `history_retention`."""
        before = now - self.retention_s
        self.dispatcher.forget_log(before)
        return self.store.prune(before)

    def register(self, scheduler: Any) -> None:
        """Add the flush job to the platform's scheduler."""
        scheduler.add("notify-dispatch", TICK_INTERVAL_S, self.tick)

    def close(self) -> None:
        """Deliver what is queued, stop the workers, close the store (once)."""
        if self._closed:
            return
        self._closed = True
        self.delivery.drain(timeout_s=30)
        self.delivery.close()
        self.store.close()

    # silences
    def add_silence(
        self,
        matchers: Sequence[Matcher],
        *,
        starts_at: float | None,
        ends_at: float,
        created_by: str,
        comment: str,
    ) -> Silence:
        now = self.clock()
        s = new_silence(matchers, starts_at or now, ends_at, created_by, comment, now)
        self.store.put_silence(s)
        return s

    def silences(self) -> list[Silence]:
        return self.store.silences()

    def silence(self, silence_id: str) -> Silence:
        return find(self.store.silences(), silence_id)

    def expire_silence(self, silence_id: str) -> Silence:
        s = expired(self.silence(silence_id), self.clock())
        self.store.put_silence(s)
        return s

    # status
    def receivers_status(self) -> list[dict[str, Any]]:
        """Each receiver with its integrations' delivery counters and failing flag."""
        by_receiver: dict[str, list[dict[str, Any]]] = {n: [] for n in self.integrations}
        for st in self.delivery.status():
            by_receiver.setdefault(st.receiver, []).append(st.to_json())
        out = []
        for name, items in by_receiver.items():
            rc = self.config.receivers.get(name)
            out.append(
                {
                    "name": name,
                    "integrations": items,
                    "unsupported": rc.unsupported if rc else [],
                    "failing": any(i["failing"] for i in items),
                }
            )
        return out

    def history(
        self,
        *,
        alertname: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        return self.store.history(alertname=alertname, since=since, until=until, limit=limit)

    def alerts(self) -> list[dict[str, Any]]:
        return self.dispatcher.alerts_status(self.clock())

    def config_text(self) -> str:
        """The routing file as written, secrets shown as `<secret>` (empty when none is configured)."""
        path = self.settings.config_file
        return redact_yaml_text(path.read_text()) if path is not None and path.exists() else ""

    def gettable_alerts(self) -> list[dict[str, Any]]:
        """Firing alerts in Alertmanager's API v2 `gettableAlert` shape."""
        return self.dispatcher.gettable_alerts(self.clock())

    def groups(self) -> list[dict[str, Any]]:
        return self.dispatcher.groups_status(self.clock())


def require(service: NotifyService | None) -> NotifyService:
    """The service, or NotFound when notifications are not set up on this platform."""
    if service is None:
        raise NotFound("notifications are not enabled on this server")
    return service
