"""Chat with a language model over Ollama's HTTP API or any OpenAI-compatible endpoint.

`ResilientChat` wraps either client with a timeout, retries with exponential backoff
(tenacity) for transient failures, and a circuit breaker (pybreaker) so a model that is down
is not asked again until `breaker_reset` has passed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import pybreaker
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from openmanager.config.settings import LLMSettings
from openmanager.errors import ConfigError, Unavailable
from openmanager.security.secrets import reveal
from openmanager.units import parse_duration

Message = dict[str, Any]


class ModelError(Unavailable):
    """The model could not give a usable answer (down, too slow, malformed reply)."""


class TransientModelError(ModelError):
    """A failure worth retrying: connection refused, timeout, 5xx, 429."""


@dataclass(frozen=True)
class ToolCall:
    """A function the model wants run, with its arguments."""

    name: str
    arguments: dict[str, Any]
    id: str = ""


@dataclass(frozen=True)
class ChatReply:
    """The model's message: text, and tool calls when it asks for more data."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    raw: Message = field(default_factory=dict)


class ChatClient(Protocol):
    """One chat completion (no streaming)."""

    def chat(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ChatReply: ...

    def tool_result(self, call: ToolCall, content: str) -> Message: ...


def _post(http: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    try:
        resp = http.post(url, json=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise TransientModelError(f"model timed out: {url}") from exc
    except httpx.TransportError as exc:
        raise TransientModelError(f"cannot reach the model at {url}: {exc}") from exc
    if resp.status_code == 429 or resp.status_code >= 500:
        raise TransientModelError(f"model answered HTTP {resp.status_code}: {resp.text[:200]}")
    if resp.status_code >= 400:
        raise ModelError(f"model refused the request (HTTP {resp.status_code}): {resp.text[:200]}")
    try:
        return resp.json()
    except ValueError as exc:
        raise ModelError(f"malformed reply (not JSON): {resp.text[:200]!r}") from exc


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise ModelError(f"malformed tool arguments: {raw[:200]!r}") from exc
    if not isinstance(raw, dict):
        raise ModelError(f"malformed tool arguments: {raw!r}")
    return raw


class OllamaChat:
    """Ollama's `/api/chat` (non-streaming, tools)."""

    def __init__(self, settings: LLMSettings, http: httpx.Client) -> None:
        self.settings, self.http = settings, http

    def chat(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ChatReply:
        """Ask once; ModelError on a reply without a message."""
        body = {"model": self.settings.model, "messages": list(messages), "stream": False,
                "options": {"temperature": 0}}  # fmt: skip
        if tools:
            body["tools"] = list(tools)
        data = _post(self.http, self.settings.url.rstrip("/") + "/api/chat", body, {})
        msg = data.get("message") if isinstance(data, dict) else None
        if not isinstance(msg, dict) or not isinstance(msg.get("content", ""), str):
            raise ModelError(f"malformed Ollama reply: {str(data)[:200]}")
        calls = [
            ToolCall(c["function"]["name"], _arguments(c["function"].get("arguments", {})))
            for c in msg.get("tool_calls") or []
            if isinstance(c, dict)
            and isinstance(c.get("function"), dict)
            and "name" in c["function"]
        ]
        return ChatReply(msg.get("content") or "", calls, msg)

    def tool_result(self, call: ToolCall, content: str) -> Message:
        """The message carrying a tool's output back to the model."""
        return {"role": "tool", "tool_name": call.name, "content": content}


class OpenAIChat:
    """An OpenAI-compatible `/chat/completions` (vLLM, llama.cpp server, LM Studio, OpenAI...)."""

    def __init__(self, settings: LLMSettings, http: httpx.Client) -> None:
        self.settings, self.http = settings, http

    def chat(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ChatReply:
        """Ask once; ModelError on a reply without a choice."""
        body: dict[str, Any] = {"model": self.settings.model, "messages": list(messages),
                                "temperature": 0}  # fmt: skip
        if tools:
            body["tools"] = list(tools)
        key = reveal(self.settings.api_key)  # may be an `enc:v1:` token
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        data = _post(self.http, self.settings.url.rstrip("/") + "/chat/completions", body, headers)
        try:
            msg = data["choices"][0]["message"]
            calls = [
                ToolCall(
                    c["function"]["name"],
                    _arguments(c["function"].get("arguments")),
                    c.get("id", ""),
                )
                for c in msg.get("tool_calls") or []
            ]
        except (KeyError, IndexError, TypeError) as exc:
            raise ModelError(f"malformed OpenAI-compatible reply: {str(data)[:200]}") from exc
        if not isinstance(msg.get("content") or "", str):
            raise ModelError(f"malformed OpenAI-compatible reply: {str(data)[:200]}")
        return ChatReply(msg.get("content") or "", calls, msg)

    def tool_result(self, call: ToolCall, content: str) -> Message:
        """The message carrying a tool's output back to the model."""
        return {"role": "tool", "tool_call_id": call.id, "content": content}


class ResilientChat:
    """A chat client behind retries with backoff and a circuit breaker."""

    def __init__(self, settings: LLMSettings, inner: ChatClient, backoff_s: float = 0.5) -> None:
        self.inner = inner
        self.retries = settings.retries
        self.backoff_s = backoff_s
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=settings.breaker_failures,
            reset_timeout=parse_duration(settings.breaker_reset) / 1000,
        )

    def chat(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ChatReply:
        """Ask with retries; ModelError when it fails or the circuit is open."""
        try:
            return self.breaker.call(self._with_retries, messages, tools)
        except pybreaker.CircuitBreakerError as exc:
            raise ModelError(
                "the model failed repeatedly; not asking it for a while (circuit open)"
            ) from exc

    def _with_retries(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> ChatReply:
        for attempt in Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.backoff_s, max=8 * self.backoff_s),
            retry=retry_if_exception_type(TransientModelError),
            reraise=True,
        ):
            with attempt:
                return self.inner.chat(messages, tools)
        raise ModelError("unreachable")  # pragma: no cover - Retrying either returns or raises

    def tool_result(self, call: ToolCall, content: str) -> Message:
        """As the wrapped client."""
        return self.inner.tool_result(call, content)


def make_chat(settings: LLMSettings, http: httpx.Client | None = None) -> ResilientChat | None:
    """The configured model client, or None for the template narrator."""
    if settings.provider == "none":
        return None
    if not settings.url or not settings.model:
        raise ConfigError(f"assistant.llm: provider {settings.provider!r} needs both url and model")
    client = http or httpx.Client(timeout=parse_duration(settings.timeout) / 1000)
    inner: ChatClient = (
        OllamaChat(settings, client)
        if settings.provider == "ollama"
        else OpenAIChat(settings, client)
    )
    return ResilientChat(settings, inner)
