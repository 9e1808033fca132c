"""Knowledge: documents split into passages with their source, collected from a folder, URLs and
database rows (SQLite and a real PostgreSQL), BM25 retrieval, and the shipped runbooks' coverage."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml

from openmanager.config.settings import KnowledgeDatabaseSettings, KnowledgeSettings
from openmanager.errors import ConfigError
from openmanager.knowledge.base import KnowledgeBase
from openmanager.knowledge.index import PassageIndex
from openmanager.knowledge.passages import MAX_CHARS, split_document
from openmanager.knowledge.sources import RUNBOOKS_DIR, collect, database_documents
from openmanager.simulate.scenarios import SCENARIOS
from tests.helpers import require

RULES = Path(__file__).parents[1] / "openmanager" / "rules" / "default_rules.yaml"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_split_keeps_heading_path_and_source() -> None:
    text = "# Disk\n\nintro\n\n## Confirm\n\nrun df\n\n### Deep\n\nmore\n\n## Fix\n\nfree space"
    ps = split_document(text, "kb/disk.md")
    assert [(p.title, p.text) for p in ps] == [
        ("Disk", "intro"),
        ("Disk > Confirm", "run df"),
        ("Disk > Confirm > Deep", "more"),
        ("Disk > Fix", "free space"),
    ]
    assert {p.source for p in ps} == {"kb/disk.md"}
    long = "\n\n".join(f"paragraph {i} " + "x" * 300 for i in range(10))
    parts = split_document(long, "long.txt", "Long")
    assert len(parts) > 1 and all(len(p.text) <= MAX_CHARS for p in parts)
    assert "".join(p.text for p in parts).count("paragraph") == 10


def test_bm25_finds_the_right_runbook_and_nothing_for_unknown_words() -> None:
    kb = KnowledgeBase(KnowledgeSettings())
    assert kb.refresh() > 10
    hit = kb.search("disk full filesystem /data", 1)[0]
    assert hit.passage.source == "runbooks/disk.md" and hit.score > 0
    assert kb.search("memory leak garbage collection", 1)[0].passage.source == "runbooks/memory.md"
    assert kb.search("service crash restart", 1)[0].passage.source == "runbooks/service.md"
    assert kb.search("zzqx unknownword", 3) == []


def test_every_default_alert_and_fault_scenario_has_a_runbook() -> None:
    kb = KnowledgeBase(KnowledgeSettings())
    alerts = [
        r["alert"]
        for g in yaml.safe_load(RULES.read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    ]
    assert len(alerts) >= 9
    for name in [*alerts, *SCENARIOS]:
        hits = kb.search(name, 3)
        assert hits and any(name in h.passage.title or name in h.passage.text for h in hits), name
    assert len(list(RUNBOOKS_DIR.glob("*.md"))) >= 6


class _Docs(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/wiki/kafka":
            self.send_error(404)
            return
        body = b"<html><head><style>p{}</style></head><body><h1>Kafka lag</h1><p>Consumer lag grows when the brokers are slow; check the partition leaders.</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def docs_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Docs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_folder_url_and_sqlite_rows_are_collected_with_their_sources(
    tmp_path: Path, docs_url: str
) -> None:
    folder = tmp_path / "kb"
    (folder / "team").mkdir(parents=True)
    (folder / "team" / "postgres.md").write_text("# Replication lag\n\nCheck pg_stat_replication.")
    (folder / "notes.txt").write_text("Rotate nginx logs weekly.")
    (folder / "image.png").write_bytes(b"\x89PNG")
    db = tmp_path / "kb.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE articles (slug TEXT, title TEXT, body TEXT)")
        conn.execute("INSERT INTO articles VALUES ('dns', 'DNS outage', 'Flush resolver caches.')")
    settings = KnowledgeSettings(
        builtin_runbooks=False,
        paths=[folder, tmp_path / "missing"],
        urls=[f"{docs_url}/wiki/kafka", f"{docs_url}/wiki/gone"],
        databases=[
            KnowledgeDatabaseSettings(
                url=f"sqlite:///{db}",
                query="SELECT slug, title, body FROM articles",
                id_column="slug",
            ),
            KnowledgeDatabaseSettings(url=f"sqlite:///{db}", query="SELECT * FROM no_such_table"),
        ],
    )
    docs = {d.source: d for d in collect(settings)}
    assert set(docs) == {str(folder / "notes.txt"), str(folder / "team" / "postgres.md"),
                         f"{docs_url}/wiki/kafka", f"sqlite:///{db}#dns"}  # fmt: skip
    assert "style" not in docs[f"{docs_url}/wiki/kafka"].text
    kb = KnowledgeBase(settings)
    kb.refresh()
    assert kb.search("consumer lag brokers", 1)[0].passage.title == "Kafka lag"
    hit = kb.search("resolver caches", 1)[0].passage
    assert (hit.source, hit.title) == (f"sqlite:///{db}#dns", "DNS outage")
    assert kb.search("replication", 1)[0].passage.source.endswith("postgres.md")


def test_postgresql_rows_as_documents() -> None:
    sa = pytest.importorskip("sqlalchemy")
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means the server is not there
        require(False, f"PostgreSQL at 127.0.0.1:5432 (db test) is not reachable: {exc}")
    table = f"kb_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table} (id int, title text, body text)"))
        conn.execute(
            sa.text(
                f"INSERT INTO {table} VALUES (7, 'Vacuum', 'Autovacuum cannot keep up with dead tuples.')"
            )
        )
    try:
        docs = list(database_documents(KnowledgeDatabaseSettings(
            url=PG_URL, query=f"SELECT id, title, body FROM {table}", id_column="id")))  # fmt: skip
        assert [(d.source, d.title) for d in docs] == [
            ("postgresql+psycopg://127.0.0.1:5432/test#7", "Vacuum")
        ]
        assert "postgres@" not in docs[0].source  # credentials never shown as a source
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {table}"))
        engine.dispose()


class _Letters:
    """A tiny deterministic embedder: letter frequencies (enough to test the fusion)."""

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 26), dtype=np.float32)
        for i, t in enumerate(texts):
            for c in t.lower():
                if "a" <= c <= "z":
                    out[i, ord(c) - 97] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_embeddings_are_fused_with_bm25_and_a_missing_model_is_a_config_error(
    tmp_path: Path,
) -> None:
    ps = split_document("# A\n\ndisk full\n\n# B\n\nmemory leak\n\n# C\n\ncpu spike", "doc.md")
    idx = PassageIndex(ps, _Letters())
    assert idx.search("memory leak", 1)[0].passage.title == "B"
    with pytest.raises(ConfigError, match="not a local model folder"):
        KnowledgeBase(KnowledgeSettings(embedding_model=tmp_path / "no-model"))
