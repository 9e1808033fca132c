"""Assistant endpoints: ask (JSON or Server-Sent Events), rate answers, interaction history, knowledge search."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from openmanager.api.deps import platform_of
from openmanager.api.params import parse_time
from openmanager.services.assistant import AssistantService

router = APIRouter()


class AskRequest(BaseModel):
    """A question in English or Korean, e.g. "why is db-primary-01 slow?"."""

    question: str
    time: str | None = Field(
        None, description="Ask about this moment (unix seconds or RFC 3339); default now."
    )


class RatingRequest(BaseModel):
    """The user's verdict on an answer: 1 (useless) to 5 (solved it)."""

    rating: int = Field(..., description="1 to 5")
    comment: str = ""


def _svc(request: Request) -> AssistantService:
    return platform_of(request).assistant


@router.post("/api/v1/assistant/ask")
def ask(body: AskRequest, request: Request) -> dict[str, Any]:
    """Answer with evidence: `answer` text, `evidence` (facts with PromQL sources), interaction `id`."""
    at = parse_time(body.time, "time") if body.time is not None else None
    return {"status": "success", "data": _svc(request).ask(body.question, at)}


@router.get("/api/v1/assistant/ask/stream")
def ask_stream(
    request: Request,
    question: str = Query(..., description="The question to answer."),
    time: str | None = Query(None, description="Ask about this moment; default now."),
) -> StreamingResponse:
    """The same answer as Server-Sent Events: `resolved`, `fact`..., `passage`..., `answer`."""
    svc = _svc(request)
    q = svc.check_question(question)
    at = parse_time(time, "time") if time is not None else None

    def events() -> Iterator[str]:
        for ev in svc.ask_stream(q, at):
            yield f"event: {ev['event']}\ndata: {json.dumps(ev['data'], ensure_ascii=False)}\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.post("/api/v1/assistant/interactions/{ident}/rating")
def rate(ident: str, body: RatingRequest, request: Request) -> dict[str, Any]:
    """Store the user's rating of one answer."""
    _svc(request).rate(ident, body.rating, body.comment)
    return {"status": "success", "data": {"id": ident, "rating": body.rating}}


@router.get("/api/v1/assistant/interactions")
def interactions(request: Request, limit: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
    """Recent questions and answers, newest first, with latency and rating."""
    return {"status": "success", "data": _svc(request).store.recent(limit)}


@router.get("/api/v1/assistant/interactions/{ident}")
def interaction(ident: str, request: Request) -> dict[str, Any]:
    """One interaction with the evidence it was answered from."""
    return {"status": "success", "data": _svc(request).store.get(ident)}


@router.get("/api/v1/knowledge/search")
def knowledge_search(
    request: Request,
    q: str = Query(..., min_length=1, description="Search words."),
    k: int = Query(5, ge=1, le=50),
) -> dict[str, Any]:
    """Runbook and document passages best matching `q` (BM25), each with its source."""
    hits = _svc(request).knowledge.search(q, k)
    return {"status": "success", "data": [{**h.passage.to_dict(), "score": h.score} for h in hits]}


@router.post("/api/v1/knowledge/refresh")
def knowledge_refresh(request: Request) -> dict[str, Any]:
    """Collect and re-index every knowledge source now."""
    kb = _svc(request).knowledge
    return {"status": "success", "data": {"passages": kb.refresh(), "documents": kb.documents}}
