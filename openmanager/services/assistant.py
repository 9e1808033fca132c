"""The assistant service: gather evidence for a question, narrate it, store the interaction.

Narration is the built-in template unless `assistant.llm` is configured; a model that is down,
malformed or contradicts the evidence falls back to the template answer with a note saying so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from openmanager.assistant.evidence import Evidence
from openmanager.assistant.gather import Gatherer, Sources
from openmanager.assistant.llm import ChatClient, ModelError, make_chat
from openmanager.assistant.narrate_llm import Contradiction, llm_answer
from openmanager.assistant.store import InteractionStore
from openmanager.assistant.template import narrate
from openmanager.config.settings import AssistantSettings
from openmanager.errors import InvalidInput
from openmanager.knowledge.base import KnowledgeBase
from openmanager.meta.db import MetaDB, own_or_shared
from openmanager.services.incidents import IncidentService
from openmanager.services.query import QueryService
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

MAX_QUESTION = 2000
NOTES = {
    "en": {"down": "The language model is unavailable ({why}); this is the built-in answer.",
           "contradiction": "The language model's answer contradicted the evidence ({why}); "
                            "this is the built-in answer instead."},
    "ko": {"down": "언어 모델을 사용할 수 없어({why}) 기본 답변을 보여 드립니다.",
           "contradiction": "언어 모델의 답변이 근거와 맞지 않아({why}) 기본 답변을 대신 보여 드립니다."},
}  # fmt: skip


class AssistantService:
    """Answers operator questions from evidence gathered through the query engine."""

    def __init__(
        self,
        settings: AssistantSettings,
        queries: QueryService,
        knowledge: KnowledgeBase,
        store: InteractionStore,
        *,
        clock: Callable[[], float] = time.time,
        alerts: Callable[[], list[dict[str, Any]]] = lambda: [],
        anomalies: Callable[[], list[dict[str, Any]]] = lambda: [],
        incidents: Callable[[Sequence[str]], list[dict[str, Any]]] = lambda servers: [],
        dependencies: Callable[[str], Sequence[str]] = lambda server: (),
        chat: ChatClient | None = None,
    ) -> None:
        self.settings, self.queries, self.knowledge, self.store = (
            settings,
            queries,
            knowledge,
            store,
        )
        self.clock = clock
        self.chat = chat if chat is not None else make_chat(settings.llm)
        self.gatherer = Gatherer(
            Sources(
                query=queries.instant,
                alerts=alerts,
                anomalies=anomalies,
                incidents=incidents,
                dependencies=dependencies,
                search=self._search,
                lookback_s=parse_duration(settings.lookback) // 1000,
            )
        )

    def _search(self, query: str, k: int) -> list[dict[str, Any]]:
        return [
            {"source": h.passage.source, "title": h.passage.title, "quote": h.passage.quote(),
             "score": round(h.score, 3)}
            for h in self.knowledge.search(query, k)
        ]  # fmt: skip

    def register(self, scheduler: Any) -> None:
        """Collect and index the knowledge sources on the scheduler."""
        scheduler.add(
            "knowledge-refresh", parse_duration(self.knowledge.settings.refresh) / 1000,
            self.knowledge.refresh,
        )  # fmt: skip

    @staticmethod
    def check_question(question: str) -> str:
        """The question stripped, or InvalidInput when empty or too long."""
        question = question.strip()
        if not question:
            raise InvalidInput("question is empty")
        if len(question) > MAX_QUESTION:
            raise InvalidInput(f"question is longer than {MAX_QUESTION} characters")
        return question

    def gather(self, question: str, at_ms: int | None = None) -> Evidence:
        """Evidence for a question (validated) at `at_ms` (default now)."""
        at = int(self.clock() * 1000) if at_ms is None else at_ms
        return self.gatherer.gather(self.check_question(question), at)

    def narrate(self, ev: Evidence) -> tuple[str, str, str]:
        """(answer, narrator, note): the model's checked answer, or the template's with a note."""
        draft = narrate(ev)
        if self.chat is None or (not ev.facts and ev.resolution.unknown):
            return draft, "template", ""
        try:
            text = llm_answer(
                ev, draft, self.chat, self.queries.instant, self.settings.llm.tool_rounds
            )
            return text, self.settings.llm.provider, ""
        except Contradiction as exc:
            log.warning("assistant: model contradicted the evidence: %s", exc.message)
            note = NOTES[ev.language]["contradiction"].format(why=exc.message)
        except ModelError as exc:
            log.warning("assistant: model unavailable: %s", exc.message)
            note = NOTES[ev.language]["down"].format(why=exc.message)
        return f"{note}\n\n{narrate(ev)}", "template", note

    def ask(self, question: str, at_ms: int | None = None) -> dict[str, Any]:
        """Answer a question (about now, or `at_ms`); stored, its id returned with the answer."""
        started = time.perf_counter()
        ev = self.gather(question, at_ms)
        answer, narrator, note = self.narrate(ev)
        return self._record(ev, answer, narrator, note, started)

    def ask_stream(self, question: str, at_ms: int | None = None) -> Iterator[dict[str, Any]]:
        """The same answer as events: `resolved`, one `fact` per figure, `passage`s, then `answer`."""
        started = time.perf_counter()
        ev = self.gather(question, at_ms)
        data = ev.to_dict()
        yield {
            "event": "resolved",
            "data": {k: data[k] for k in ("servers", "topics", "unknown", "related")},
        }
        for fact in data["facts"]:
            yield {"event": "fact", "data": fact}
        for passage in ev.passages:
            yield {"event": "passage", "data": passage}
        answer, narrator, note = self.narrate(ev)
        yield {"event": "answer", "data": self._record(ev, answer, narrator, note, started)}

    def _record(
        self, ev: Evidence, answer: str, narrator: str, note: str, started: float
    ) -> dict[str, Any]:
        latency_ms = (time.perf_counter() - started) * 1000
        record = {"at": self.clock(), "question": ev.question, "language": ev.language,
                  "narrator": narrator, "note": note, "answer": answer,
                  "evidence": ev.to_dict(), "latency_ms": round(latency_ms, 1)}  # fmt: skip
        record["id"] = self.store.add(record)
        return record

    def rate(self, ident: str, rating: int, comment: str = "") -> None:
        """Store the user's rating of an answer."""
        self.store.rate(ident, rating, comment)


def interaction_store(settings: AssistantSettings, meta: MetaDB) -> InteractionStore:
    """Interactions on the metadata store (or the own SQLite file `assistant.history_file`)."""
    db, owned = own_or_shared(settings.history_file, meta)
    return InteractionStore(db, owned=owned)


def incidents_of(service: IncidentService) -> Callable[[Sequence[str]], list[dict[str, Any]]]:
    """Open incidents touching some servers, each with its ranked causes (root-cause analysis)."""

    def provide(servers: Sequence[str]) -> list[dict[str, Any]]:
        wanted = set(servers)
        out: list[dict[str, Any]] = []
        try:
            for inc in service.list():
                if inc.status == "resolved" or (wanted and not wanted & set(inc.servers)):
                    continue
                item = inc.to_dict(with_timeline=False)
                item["causes"] = [c.to_dict() for c in service.causes(inc.id, limit=3)]
                out.append(item)
        except Exception as exc:  # incidents are extra evidence; never fail an answer over them
            log.warning("assistant: incidents unavailable: %s", exc)
        return out

    return provide
