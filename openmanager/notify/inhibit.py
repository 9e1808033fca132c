"""Inhibition: a firing source alert mutes target alerts that share the `equal` labels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from openmanager.notify.config import InhibitRule
from openmanager.notify.matchers import matches_all
from openmanager.notify.model import Alert


def inhibited_by(
    rules: Sequence[InhibitRule], labels: Mapping[str, str], firing: Iterable[Alert]
) -> str | None:
    """Fingerprint of a firing alert that inhibits this label set, or None (Alertmanager's rule).

    A source that also matches the target side cannot inhibit an alert that matches the
    source side itself, so two alerts never silence each other.
    """
    sources = list(firing)
    for rule in rules:
        if not matches_all(rule.target_matchers, labels):
            continue
        self_is_source = matches_all(rule.source_matchers, labels)
        for s in sources:
            if not matches_all(rule.source_matchers, s.labels):
                continue
            if self_is_source and matches_all(rule.target_matchers, s.labels):
                continue
            if all(s.labels.get(k, "") == labels.get(k, "") for k in rule.equal):
                return s.fingerprint
    return None
