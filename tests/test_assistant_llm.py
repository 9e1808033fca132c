"""The language-model narrator against a local HTTP server speaking Ollama's and OpenAI's chat
protocols with recorded replies: the requests OpenManager sends, tool calls for follow-up
queries, and what happens on malformed, slow, contradictory and failing replies.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from openmanager.assistant.store import InteractionStore
from openmanager.config.settings import AssistantSettings, KnowledgeSettings
from openmanager.knowledge.base import KnowledgeBase
from openmanager.meta.db import open_meta
from openmanager.promql.memstore import MemoryStorage
from openmanager.samples import SampleBatch, make_labels
from openmanager.services.assistant import AssistantService
from openmanager.services.query import QueryService

NOW_S = 1_800_000_000.0


class FakeModel:
    """A loopback HTTP server; each POST gets the next scripted (delay, status, body) reply."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.replies: list[tuple[float, int, Any]] = []
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                model.requests.append(
                    (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                delay, status, reply = (
                    model.replies.pop(0) if model.replies else (0, 500, "no reply")
                )
                time.sleep(delay)
                data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and hung up

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def model() -> Iterator[FakeModel]:
    m = FakeModel()
    yield m
    m.close()


def _storage() -> MemoryStorage:
    """db-primary-01 with a nearly full /data disk and normal CPU, 2 h of 1-minute samples."""
    st = MemoryStorage()
    ts = [int((NOW_S - 7200 + 60 * i) * 1000) for i in range(121)]
    base = {"server": "db-primary-01", "instance": "db-primary-01:9100", "job": "node"}
    disk = {**base, "mountpoint": "/data"}
    rows: list[tuple[dict[str, str], str, list[float]]] = [
        (base, "node_load1", [0.4] * len(ts)),
        (disk, "node_filesystem_size_bytes", [1000.0] * len(ts)),
        (disk, "node_filesystem_avail_bytes", [400.0] * 60 + [400.0 - 6.35 * i for i in range(61)]),
        ({**base, "cpu": "0", "mode": "idle"}, "node_cpu_seconds_total", [30.0 * i for i in range(len(ts))]),
    ]  # fmt: skip
    st.append(SampleBatch.from_series([(make_labels(name, lbl), ts, vs) for lbl, name, vs in rows]))
    return st


def _service(tmp_path: Path, provider: str, url: str, **llm: Any) -> AssistantService:
    settings = AssistantSettings(
        llm={"provider": provider, "url": url, "model": "llama3.2", "timeout": "2s",
             "retries": 1, "breaker_failures": 2, "breaker_reset": "60s", **llm}
    )  # fmt: skip
    svc = AssistantService(
        settings,
        QueryService(_storage()),
        KnowledgeBase(KnowledgeSettings()),
        InteractionStore(open_meta("", tmp_path), owned=True),
        clock=lambda: NOW_S,
    )
    assert svc.chat is not None
    svc.chat.backoff_s = 0.01  # type: ignore[attr-defined]
    return svc


def ollama(content: str, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A recorded /api/chat reply (non-streaming)."""
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {"model": "llama3.2", "created_at": "2026-11-23T10:00:00.000000Z", "message": msg,
            "done_reason": "stop", "done": True, "total_duration": 912000000,
            "load_duration": 21000000, "prompt_eval_count": 812, "prompt_eval_duration": 401000000,
            "eval_count": 64, "eval_duration": 480000000}  # fmt: skip


def openai(content: str | None, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A recorded /v1/chat/completions reply."""
    msg: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion",
            "created": 1764000000, "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": msg, "logprobs": None,
                         "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876},
            "system_fingerprint": "fp_44709d6fcb"}  # fmt: skip


def _disk_fact(ev: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in ev["facts"] if f["kind"] == "value" and f["topic"] == "disk")


def test_ollama_phrases_the_answer_from_the_evidence(tmp_path: Path, model: FakeModel) -> None:
    svc = _service(tmp_path, "ollama", model.url)
    model.replies.append((0, 200, ollama("db-primary-01 is slow because /data is 98.1% full [1].")))
    out = svc.ask("why is db-primary-01 slow?")
    assert out["narrator"] == "ollama" and out["note"] == ""
    assert out["answer"] == "db-primary-01 is slow because /data is 98.1% full [1]."
    path, headers, body = model.requests[0]
    assert path == "/api/chat" and body["model"] == "llama3.2" and body["stream"] is False
    assert body["options"]["temperature"] == 0
    assert body["tools"][0]["function"]["name"] == "query_promql"
    system, user = body["messages"]
    assert system["role"] == "system" and "ONLY numbers" in system["content"]
    fact = _disk_fact(out["evidence"])
    assert abs(fact["value"] - 0.981) < 0.001  # the number the model used is the evidence's
    assert fact["source"] in user["content"] and "Most likely cause" in user["content"]
    assert "authorization" not in headers


def test_openai_tool_call_runs_a_follow_up_query_and_its_result_may_be_cited(
    tmp_path: Path, model: FakeModel
) -> None:
    svc = _service(tmp_path, "openai", model.url + "/v1", api_key="sk-test")
    call = {"id": "call_abc123", "type": "function",
            "function": {"name": "query_promql",
                         "arguments": json.dumps({"expr": 'node_load1{server="db-primary-01"}'})}}  # fmt: skip
    model.replies += [
        (0, 200, openai(None, [call])),
        (0, 200, openai("Load is 0.4 [6] and /data is 98.1% full [1].")),
    ]
    out = svc.ask("why is db-primary-01 slow?")
    assert out["narrator"] == "openai", out["answer"]
    (p1, h1, b1), (p2, _, b2) = model.requests
    assert p1 == p2 == "/v1/chat/completions" and h1["authorization"] == "Bearer sk-test"
    assert b1["model"] == "llama3.2" and b1["temperature"] == 0
    assistant_msg, tool_msg = b2["messages"][-2:]
    assert assistant_msg["tool_calls"][0]["id"] == "call_abc123"
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_abc123"
    result = json.loads(tool_msg["content"])["result"]
    assert result[0]["value"] == 0.4 and result[0]["labels"]["server"] == "db-primary-01"
    q = next(f for f in out["evidence"]["facts"] if f["kind"] == "query")
    assert q["source"] == 'node_load1{server="db-primary-01"}' and q["ref"] == result[0]["ref"]


def test_contradicting_numbers_fall_back_to_the_template_and_say_so(
    tmp_path: Path, model: FakeModel
) -> None:
    svc = _service(tmp_path, "ollama", model.url)
    model.replies.append(
        (0, 200, ollama("/data on db-primary-01 is 45% full [1], nothing to worry."))
    )
    out = svc.ask("why is db-primary-01 slow?")
    assert out["narrator"] == "template"
    assert "contradicted the evidence" in out["note"] and "45" in out["note"]
    assert out["answer"].startswith(out["note"])
    assert "Most likely cause: disk usage on db-primary-01 /data is 98.1% [1]" in out["answer"]
    stored = svc.store.get(out["id"])
    assert stored["note"] == out["note"] and stored["narrator"] == "template"


def test_korean_question_gets_the_korean_system_prompt_and_korean_fallback(
    tmp_path: Path, model: FakeModel
) -> None:
    svc = _service(tmp_path, "ollama", model.url)
    model.replies.append((0, 200, ollama("디스크 사용률이 99.9%입니다 [1].")))
    out = svc.ask("db-primary-01 왜 느려요?")
    assert "한국어" in model.requests[0][2]["messages"][0]["content"]
    assert out["narrator"] == "template" and "근거와 맞지 않아" in out["note"]
    assert "가장 유력한 원인" in out["answer"]


@pytest.mark.parametrize(
    "reply",
    [
        (0, 200, "this is not json"),
        (0, 200, {"model": "llama3.2", "done": True}),  # no message
        (0, 200, ollama("")),  # empty answer
        (0, 404, {"error": "model 'llama3.2' not found, try pulling it first"}),
    ],
    ids=["not-json", "no-message", "empty", "model-missing"],
)
def test_malformed_or_refused_replies_fall_back_without_retrying(
    tmp_path: Path, model: FakeModel, reply: tuple[float, int, Any]
) -> None:
    svc = _service(tmp_path, "ollama", model.url)
    model.replies.append(reply)
    out = svc.ask("why is db-primary-01 slow?")
    assert out["narrator"] == "template" and "unavailable" in out["note"]
    assert "Most likely cause" in out["answer"]
    assert len(model.requests) == 1  # not worth retrying


def test_slow_and_failing_model_is_retried_then_the_circuit_opens(
    tmp_path: Path, model: FakeModel
) -> None:
    svc = _service(tmp_path, "openai", model.url + "/v1")
    model.replies += [(3.0, 200, openai("too late")), (0, 503, {"error": "overloaded"})]
    started = time.monotonic()
    out = svc.ask("why is db-primary-01 slow?")
    assert time.monotonic() - started < 10
    assert out["narrator"] == "template" and "HTTP 503" in out["note"]
    assert len(model.requests) == 2  # one timeout, one retry

    model.replies += [(0, 500, "boom"), (0, 500, "boom")]
    out = svc.ask("why is db-primary-01 slow?")  # second failed call: the breaker opens
    assert len(model.requests) == 4
    out = svc.ask("why is db-primary-01 slow?")
    assert "circuit open" in out["note"] and len(model.requests) == 4  # not asked at all
    assert "Most likely cause" in out["answer"]


def test_model_down_gives_the_template_answer_with_a_note(tmp_path: Path) -> None:
    svc = _service(tmp_path, "ollama", "http://127.0.0.1:9")  # discard port: nothing listens
    out = svc.ask("why is db-primary-01 slow?")
    assert out["narrator"] == "template" and "cannot reach the model" in out["note"]
    assert "Most likely cause: disk usage on db-primary-01 /data" in out["answer"]


def test_unknown_server_is_answered_without_asking_the_model(
    tmp_path: Path, model: FakeModel
) -> None:
    svc = _service(tmp_path, "ollama", model.url)
    out = svc.ask("why is db-primary-02 slow?")
    assert model.requests == [] and out["narrator"] == "template"
    assert 'I do not know a server called "db-primary-02"' in out["answer"]
    assert "db-primary-01" in out["answer"]
