"""Resolving questions (servers, metrics, topics, closest names), language detection, and the
number check that guards a model's answer."""

from __future__ import annotations

import pytest

from openmanager.assistant.language import detect_language
from openmanager.assistant.numbers import numbers_in, unsupported
from openmanager.assistant.resolve import resolve
from openmanager.assistant.template import fmt_value

SERVERS = ["db-primary-01", "db-replica-01", "web-server-01", "k8s-api-01", "cache-redis-01"]
METRICS = ["node_memory_MemAvailable_bytes", "node_filesystem_avail_bytes", "node_load1"]


def test_exact_names_topics_and_ports() -> None:
    r = resolve(
        "why is db-primary-01:9100 slow and is web-server-01 out of memory?", SERVERS, METRICS
    )
    assert r.servers == ["db-primary-01", "web-server-01"] and r.unknown == []
    assert [t.name for t in r.topics] == ["memory", "latency"]


@pytest.mark.parametrize(
    ("said", "meant"),
    [
        ("DB-Primary-01", "db-primary-01"),
        ("dbprimary01", "db-primary-01"),
        ("k8s-api", "k8s-api-01"),
    ],
)
def test_unambiguous_spellings_are_read_as_the_server(said: str, meant: str) -> None:
    r = resolve(f"how is {said}?", SERVERS, METRICS)
    assert r.servers == [meant] and r.unknown == []
    if said != meant:
        assert r.corrected == {said: meant}


def test_unknown_or_ambiguous_names_are_never_guessed() -> None:
    r = resolve("why is db-primary-02 slow?", SERVERS, METRICS)
    assert r.servers == [] and r.unknown[0].name == "db-primary-02"
    assert r.unknown[0].closest[0] == "db-primary-01" and len(r.unknown[0].closest) == 3
    assert resolve("how is db?", SERVERS, METRICS).servers == []  # db-primary-01 or db-replica-01?
    m = resolve("graph node_memory_available_bytes", SERVERS, METRICS).unknown[0]
    assert m.kind == "metric" and m.closest[0] == "node_memory_MemAvailable_bytes"


def test_korean_questions() -> None:
    r = resolve("db-primary-01 서버 디스크가 왜 느려요?", SERVERS, METRICS)
    assert r.servers == ["db-primary-01"] and {t.name for t in r.topics} == {"disk", "latency"}
    assert detect_language("db-primary-01 서버가 왜 느려요?") == "ko"
    assert detect_language("why is db-primary-01 slow?") == "en"


def test_metric_names_bring_their_topic() -> None:
    r = resolve("what is node_filesystem_avail_bytes on db-primary-01", SERVERS, METRICS)
    assert r.metrics == ["node_filesystem_avail_bytes"] and [t.name for t in r.topics] == ["disk"]


def test_number_check_accepts_evidence_in_any_unit_and_rejects_the_rest() -> None:
    evidence = [0.9853, 0.191, 2.026e12, 3960.0, 8.07]
    ok = ("disk is 98.5% full [1], p95 191 ms [3] (8.1× [4]), 2.03 TB written, "
          "runs out in about 1.1 h, see `rate(x[5m])` on db-primary-01 at 14:02 (2026-11-23T14:02:25Z)")  # fmt: skip
    assert unsupported(ok, evidence) == []
    assert unsupported("disk is 45% full and latency 900 ms", evidence) == ["45", "900"]
    assert unsupported("p95 of 250 ms", evidence, question="is 250 ms too slow?") == []
    assert numbers_in("db-primary-01 p95 k8s [12] 3.5") == ["3.5"]


def test_value_formats() -> None:
    assert fmt_value(0.98531, "ratio") == "98.5%"
    assert (fmt_value(0.191, "seconds"), fmt_value(2.5, "seconds")) == ("191 ms", "2.50 s")
    assert fmt_value(12_345_678, "bytes_per_second") == "12.35 MB/s"
    assert (fmt_value(0, "up", "ko"), fmt_value(1, "up")) == ("중단", "up")


def test_abnormal_means_past_the_alert_threshold_or_moved_far_from_the_usual_level() -> None:
    from openmanager.assistant.topics import BY_NAME

    disk, latency, service = BY_NAME["disk"], BY_NAME["latency"], BY_NAME["service"]
    assert disk.abnormal(0.95, 0.94) > 1 and disk.abnormal(0.85, None) <= 1  # rules use `>`
    assert latency.abnormal(0.3, 0.1) > 1  # 3x its usual level, far below 1 s
    assert latency.abnormal(1.5, 1.4) <= 1  # always around 1.5 s: its normal, not news
    assert latency.abnormal(1.5, 0.5) > 1
    assert BY_NAME["memory"].abnormal(0.95, 0.85) > 1  # a slow leak past 90% still counts
    assert service.abnormal(0, 1) > 1 and service.abnormal(1, 1) == 0
