"""Narration by a language model: it phrases the gathered evidence and may run PromQL follow-ups.

The model sees the facts (each with its citation mark and source) and the template answer;
its text is accepted only if every number in it is backed by a fact, otherwise `Contradiction`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from openmanager.assistant.evidence import Evidence, Fact
from openmanager.assistant.llm import ChatClient, Message, ModelError
from openmanager.assistant.numbers import unsupported
from openmanager.promql.engine import QueryResult

QUERY_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "query_promql",
        "description": "Evaluate a PromQL expression now; returns each series' labels and value "
        "with a citation mark to use in the answer.",
        "parameters": {
            "type": "object",
            "properties": {"expr": {"type": "string", "description": "PromQL expression"}},
            "required": ["expr"],
        },
    },
}
MAX_TOOL_SERIES = 10
SYSTEM = {
    "en": "You are OpenManager's operations assistant. Answer in English, briefly, for an on-call "
    "operator. Use ONLY numbers that appear in the facts or in tool results, and put the fact's "
    "citation mark like [3] after every number. Never invent figures, servers or causes; if the "
    "facts do not show a cause, say so. Keep server and metric names exactly as given.",
    "ko": "당신은 OpenManager의 운영 도우미입니다. 한국어로 짧게 답하세요. 사실(facts)이나 도구 결과에 "
    "있는 숫자만 쓰고, 모든 숫자 뒤에 [3]처럼 해당 사실의 인용 표시를 붙이세요. 수치, 서버, 원인을 "
    "지어내지 마세요. 서버와 메트릭 이름은 주어진 그대로 쓰세요.",
}


class Contradiction(ModelError):
    """The model's answer holds numbers the evidence does not."""

    def __init__(self, numbers: list[str]) -> None:
        super().__init__(f"numbers not in the evidence: {', '.join(numbers)}")
        self.numbers = numbers


def _facts_json(facts: list[Fact]) -> str:
    rows = [
        {"ref": f.ref, "kind": f.kind, "server": f.server, "topic": f.topic, "value": f.value,
         "source": f.source, "labels": f.labels, "change": f.change, "note": f.note}
        for f in facts
    ]  # fmt: skip
    return json.dumps(rows, ensure_ascii=False)


def llm_answer(
    ev: Evidence,
    draft: str,
    client: ChatClient,
    query: Callable[[str, int], QueryResult],
    tool_rounds: int,
) -> str:
    """The model's answer, checked against the evidence (tool results become evidence too)."""
    messages: list[Message] = [
        {"role": "system", "content": SYSTEM[ev.language]},
        {"role": "user", "content": f"Question: {ev.question}\n\nFacts: {_facts_json(ev.facts)}\n\n"
                                    f"Runbook passages: {json.dumps(ev.passages, ensure_ascii=False)}\n\n"
                                    f"Draft answer (rephrase and connect; keep every citation):\n{draft}"},
    ]  # fmt: skip
    tools = [QUERY_TOOL] if tool_rounds > 0 else []
    for round_no in range(tool_rounds + 1):
        reply = client.chat(messages, tools if round_no < tool_rounds else [])
        if not reply.tool_calls:
            break
        messages.append({"role": "assistant", "content": reply.content, **_calls_of(reply.raw)})
        for call in reply.tool_calls:
            messages.append(
                client.tool_result(call, _run_tool(ev, call.name, call.arguments, query))
            )
    else:
        raise ModelError("the model kept asking for tools without answering")
    text = reply.content.strip()
    if not text:
        raise ModelError("the model returned an empty answer")
    bad = unsupported(text, ev.numbers(), ev.question)
    if bad:
        raise Contradiction(bad)
    return text


def _calls_of(raw: Message) -> dict[str, Any]:
    return {"tool_calls": raw["tool_calls"]} if raw.get("tool_calls") else {}


def _run_tool(
    ev: Evidence, name: str, args: dict[str, Any], query: Callable[[str, int], QueryResult]
) -> str:
    if name != "query_promql" or not isinstance(args.get("expr"), str):
        return json.dumps({"error": f"unknown tool {name!r} or missing expr"})
    expr = args["expr"]
    try:
        result = query(expr, ev.time_ms)
    except Exception as exc:  # the model's PromQL may be invalid; tell it, do not fail the answer
        return json.dumps({"error": str(exc)})
    rows = []
    for s in result.series[:MAX_TOOL_SERIES]:
        if not len(s.values):
            continue
        labels = {k: v for k, v in s.labels if k != "__name__"}
        f = ev.cite(Fact("", "query", labels.get("server", ""), "", float(s.values[-1]), expr,
                         ev.time_ms, labels))  # fmt: skip
        rows.append({"ref": f.ref, "labels": labels, "value": f.value})
    return json.dumps({"result": rows})
