"""The log store: search by time, server, level, source and text; partitions and retention."""

from __future__ import annotations

from pathlib import Path

import pytest

from openmanager.errors import InvalidInput
from openmanager.logs.record import LogRecord
from openmanager.logs.store import DAY_MS, LogQuery, LogStore

T0 = 1_700_006_400_000  # 2023-11-15T00:00:00Z


def rec(dt_ms: int, server: str = "web-01", level: str = "info", msg: str = "hello",
        source: str = "app") -> LogRecord:  # fmt: skip
    return LogRecord(T0 + dt_ms, server, level, source, msg)


@pytest.fixture
def store(tmp_path: Path) -> LogStore:
    s = LogStore(tmp_path / "logs")
    s.add(
        [
            rec(1_000, "web-01", "info", "GET /index.html 200"),
            rec(2_000, "db-01", "warning", "LOG:  duration: 2345.1 ms  statement: SELECT 1"),
            rec(3_000, "db-01", "error", 'could not extend file "base/1": No space left on device'),
            rec(4_000, "web-01", "error", "upstream db-01 timed out after 5000 ms"),
            rec(5_000, "web-01", "critical", "Out of memory: Killed process 42 (gateway)"),
            rec(DAY_MS + 1_000, "db-01", "info", "checkpoint complete", "postgresql"),
        ]
    )
    return s


def q(**kw: object) -> LogQuery:
    base: dict[str, object] = {"start_ms": T0, "end_ms": T0 + 2 * DAY_MS}
    return LogQuery(**(base | kw))  # type: ignore[arg-type]


def msgs(lines: list[LogRecord]) -> list[str]:
    return [r.message for r in lines]


def test_newest_first_across_day_partitions(store: LogStore) -> None:
    got = store.search(q())
    assert [r.ts_ms - T0 for r in got] == [DAY_MS + 1_000, 5_000, 4_000, 3_000, 2_000, 1_000]
    assert len(store.days()) == 2
    oldest = store.search(q(oldest_first=True, limit=2))
    assert [r.ts_ms - T0 for r in oldest] == [1_000, 2_000]


def test_filters_combine(store: LogStore) -> None:
    assert msgs(store.search(q(server="db-01", level="error"))) == [
        'could not extend file "base/1": No space left on device'
    ]
    assert len(store.search(q(level="warning"))) == 4
    assert len(store.search(q(level="warn"))) == 4  # alias
    assert msgs(store.search(q(source="postgresql"))) == ["checkpoint complete"]
    assert store.search(q(start_ms=T0 + 2_500, end_ms=T0 + 4_000)) == [
        rec(4_000, "web-01", "error", "upstream db-01 timed out after 5000 ms"),
        rec(3_000, "db-01", "error", 'could not extend file "base/1": No space left on device'),
    ]


def test_text_is_a_case_insensitive_phrase(store: LogStore) -> None:
    assert len(store.search(q(text="no space left ON device"))) == 1
    assert store.search(q(text="space device")) == []  # a phrase, not a bag of words
    assert msgs(store.search(q(text="timed out", server="web-01", level="error"))) == [
        "upstream db-01 timed out after 5000 ms"
    ]
    # query syntax is not interpreted: quotes, NEAR, columns, stars are literal text
    for text in ('"', "NEAR(a b)", "message:GET", "OR", "*", 'extend file "base'):
        store.search(q(text=text))
    assert len(store.search(q(text='extend file "base'))) == 1


def test_many_lines_in_one_millisecond_keep_their_order(tmp_path: Path) -> None:
    s = LogStore(tmp_path)
    s.add([rec(7, msg=f"first batch {i}") for i in range(3)])
    s.add([rec(7, msg=f"second batch {i}") for i in range(3)])
    got = msgs(s.search(q(oldest_first=True)))
    assert got == [f"first batch {i}" for i in range(3)] + [f"second batch {i}" for i in range(3)]
    assert s.count() == 6


def test_late_lines_land_in_their_own_day(store: LogStore) -> None:
    store.add([rec(500, "web-01", "error", "late arrival")])
    assert msgs(store.search(q(end_ms=T0 + 1_000, oldest_first=True))) == [
        "late arrival",
        "GET /index.html 200",
    ]


def test_retention_drops_whole_old_days(store: LogStore) -> None:
    assert store.apply_retention(T0 + 2 * DAY_MS, 2 * DAY_MS) == []
    dropped = store.apply_retention(T0 + 2 * DAY_MS + 1, DAY_MS)
    assert dropped == [T0 // DAY_MS]
    assert msgs(store.search(q())) == ["checkpoint complete"]
    left = {p.name.split(".")[0] for p in store.path.iterdir()}
    assert left == {"2023-11-16"}  # the dropped day's wal and shm files went too
    assert store.latest_ms() == T0 + DAY_MS + 1_000
    assert store.latest_ms(["web-01"]) is None  # its lines were on the dropped day
    assert store.latest_ms(["web-01", "db-01"]) == T0 + DAY_MS + 1_000


def test_reopened_store_keeps_lines(store: LogStore) -> None:
    store.close()
    again = LogStore(store.path)
    assert len(again.search(q())) == 6
    assert again.search(q(text="checkpoint"))[0].source == "postgresql"


def test_trigram_tokenizer_matches_substrings(tmp_path: Path) -> None:
    s = LogStore(tmp_path, tokenizer="trigram")
    s.add([rec(1, msg="connection refused by upstream")])
    assert len(s.search(q(text="refus"))) == 1
    assert s.search(q(text="refusal")) == []


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"end_ms": T0 - 1}, "before start"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_001}, "limit"),
        ({"level": "loud"}, "unknown log level 'loud'"),
        ({"text": "   "}, "blank"),
    ],
)
def test_bad_queries_are_rejected(kw: dict[str, object], needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        q(**kw)


def test_bad_records_and_tokenizers(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown log level"):
        LogStore(tmp_path).add([rec(1, level="shouting")])
    with pytest.raises(InvalidInput, match="tokenizer"):
        LogStore(tmp_path, tokenizer="porter")


def test_extreme_ranges_are_clamped_not_errors(store: LogStore) -> None:
    assert len(store.search(LogQuery(-(10**15), 10**18))) == 6
    assert store.search(LogQuery(10**18, 10**19)) == []
    with pytest.raises(InvalidInput, match="out of range"):
        store.add([LogRecord(-1, "x", "info", "app", "before 1970")])
