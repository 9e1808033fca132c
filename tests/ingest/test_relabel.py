"""Relabelling: each action with Prometheus's semantics (cases from its relabel_test.go)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from openmanager.config.scrape import RelabelConfig
from openmanager.ingest.relabel import compile_rules, relabel


def run(labels: dict[str, str], *rules: dict[str, Any]) -> dict[str, str] | None:
    return relabel(labels, compile_rules([RelabelConfig(**r) for r in rules]))


CASES: list[tuple[dict[str, str], list[dict[str, Any]], dict[str, str] | None]] = [
    # replace with groups joined by the separator; the regex is anchored
    (
        {"a": "foo", "b": "bar"},
        [
            {
                "source_labels": ["a", "b"],
                "regex": "f(.*);(.*)r",
                "target_label": "d",
                "replacement": "ch${1}-ch${2}",
            }
        ],
        {"a": "foo", "b": "bar", "d": "choo-chba"},
    ),
    ({"a": "foo"}, [{"source_labels": ["a"], "regex": "o+", "target_label": "d"}], {"a": "foo"}),
    # $1foo refers to the (missing) group "1foo": expands to nothing, so the label is deleted
    (
        {"a": "foo", "d": "x"},
        [{"source_labels": ["a"], "regex": "(f).*", "target_label": "d", "replacement": "$1foo"}],
        {"a": "foo"},
    ),
    # target label from a group; an invalid target name leaves the set unchanged
    (
        {"a": "some-name-value"},
        [
            {
                "source_labels": ["a"],
                "regex": "some-([^-]+)-([^,]+)",
                "action": "replace",
                "replacement": "${2}",
                "target_label": "${1}",
            }
        ],
        {"a": "some-name-value", "name": "value"},
    ),
    (
        {"a": "some-name-0"},
        [
            {
                "source_labels": ["a"],
                "regex": "some-([^-]+)-([^,]+)",
                "replacement": "${2}",
                "target_label": "${3}",
            }
        ],
        {"a": "some-name-0"},
    ),
    ({"a": "foo"}, [{"source_labels": ["a"], "regex": "f.*", "action": "drop"}], None),
    ({"a": "foo"}, [{"source_labels": ["a"], "regex": "f", "action": "drop"}], {"a": "foo"}),
    ({"a": "foo"}, [{"source_labels": ["a"], "regex": "f", "action": "keep"}], None),
    ({"a": "foo"}, [{"source_labels": ["a"], "regex": "f.*", "action": "keep"}], {"a": "foo"}),
    # hashmod: Prometheus's relabel_test.go cases ("baz" -> 976, "foo\nbar" -> 734 mod 1000)
    (
        {"a": "foo", "b": "bar", "c": "baz"},
        [{"source_labels": ["c"], "target_label": "d", "modulus": 1000, "action": "hashmod"}],
        {"a": "foo", "b": "bar", "c": "baz", "d": "976"},
    ),
    (
        {"a": "foo\nbar"},
        [{"source_labels": ["a"], "target_label": "b", "modulus": 1000, "action": "hashmod"}],
        {"a": "foo\nbar", "b": "734"},
    ),
    (
        {"__meta_my_bar": "aaa", "__meta_my_baz": "bbb", "x": "1"},
        [{"regex": "__meta_(my.*)", "replacement": "${1}", "action": "labelmap"}],
        {
            "__meta_my_bar": "aaa",
            "__meta_my_baz": "bbb",
            "x": "1",
            "my_bar": "aaa",
            "my_baz": "bbb",
        },
    ),
    ({"a": "1", "b1": "2", "b2": "3"}, [{"regex": "b.*", "action": "labeldrop"}], {"a": "1"}),
    (
        {"a": "1", "b1": "2", "b2": "3"},
        [{"regex": "b.*", "action": "labelkeep"}],
        {"b1": "2", "b2": "3"},
    ),
    # missing source labels join as empty strings
    (
        {"a": "x"},
        [
            {
                "source_labels": ["a", "missing"],
                "regex": "x;",
                "target_label": "m",
                "replacement": "yes",
            }
        ],
        {"a": "x", "m": "yes"},
    ),
]


@pytest.mark.parametrize(("labels", "rules", "expected"), CASES)
def test_relabel(
    labels: dict[str, str], rules: list[dict[str, Any]], expected: dict[str, str] | None
) -> None:
    assert run(labels, *rules) == expected


@pytest.mark.parametrize(
    "rule",
    [
        {"action": "replace", "source_labels": ["a"]},  # no target label
        {"action": "hashmod", "target_label": "x"},  # no modulus
        {"action": "keep", "regex": "("},  # bad regex
        {"action": "explode"},
    ],
)
def test_invalid_rules_are_config_errors(rule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RelabelConfig(**rule)
