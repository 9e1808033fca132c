"""The rules service: loads the configured rule files, evaluates groups on the scheduler,
reloads on SIGHUP and `POST /-/reload`, and hands due alerts to the alert sender."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable

from openmanager.config.settings import RulesSettings
from openmanager.rules.group import GroupOptions
from openmanager.rules.manager import ReloadOutcome, RuleManager
from openmanager.rules.outbound import AlertSender
from openmanager.services.scheduler import Scheduler
from openmanager.tsdb.storage import Storage
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

TICK_S = 1.0
"""How often the service checks which groups are due (each group keeps its own interval)."""


class RulesService:
    """Runs the configured rule groups; `sender` receives Alertmanager-style alerts."""

    def __init__(
        self,
        settings: RulesSettings,
        storage: Storage,
        clock: Callable[[], float] = time.time,
        sender: AlertSender | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.active: Callable[[], bool] = lambda: True
        """Evaluate only while this returns True (the cluster's leader; always True alone)."""
        options = GroupOptions(
            external_labels=dict(settings.external_labels), external_url=settings.external_url
        )
        self.manager = RuleManager(
            storage,
            settings.files,
            parse_duration(settings.evaluation_interval),
            options,
            sender,
        )
        self.last_reload_at = 0.0

    @property
    def sender(self) -> AlertSender | None:
        return self.manager.sender

    @sender.setter
    def sender(self, value: AlertSender | None) -> None:
        self.manager.sender = value

    def reload(self) -> ReloadOutcome:
        """Re-read the rule files; a broken file keeps the running rules and says why."""
        outcome = self.manager.reload()
        self.last_reload_at = self.clock()
        return outcome

    def tick(self) -> None:
        """Evaluate the groups that are due (the scheduler calls this every second)."""
        if not self.active():
            return
        self.manager.tick(int(self.clock() * 1000))

    def register(self, scheduler: Scheduler) -> None:
        """Load the rules and add the evaluation job to the scheduler."""
        outcome = self.reload()
        if outcome.error is not None:
            log.error("rule files are invalid; no rules run until fixed: %s", outcome.error)
        scheduler.add("rules", TICK_S, self.tick)

    def install_sighup(self) -> bool:
        """Reload on SIGHUP (only possible from the main thread's event loop)."""
        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, self.reload))
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            return False
        return True
