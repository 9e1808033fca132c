"""Where documents come from: a folder of Markdown/text, URLs, rows of a database table.

Each collector returns (source, title, text) documents; one broken source is logged and
skipped so the others still get indexed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from openmanager.config.settings import KnowledgeDatabaseSettings, KnowledgeSettings

log = logging.getLogger(__name__)

RUNBOOKS_DIR = Path(__file__).parent / "runbooks"
"""Runbooks shipped with OpenManager (default rule pack and simulator fault scenarios)."""
TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".rst")
URL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Document:
    """One document before splitting: where it is from, a title, its text."""

    source: str
    title: str
    text: str


def folder_documents(path: Path, label: str | None = None) -> Iterator[Document]:
    """Markdown/text files under `path` (a folder, searched recursively, or one file)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if f.suffix.lower() not in TEXT_SUFFIXES:
            continue
        name = f"{label}/{f.relative_to(path)}" if label and path.is_dir() else str(f)
        yield Document(name, "", f.read_text(encoding="utf-8", errors="replace"))


def url_documents(urls: Iterable[str], client: httpx.Client) -> Iterator[Document]:
    """The text of each URL (HTML tags removed); an unreachable URL is logged and skipped."""
    for url in urls:
        try:
            resp = client.get(url, timeout=URL_TIMEOUT_S, follow_redirects=True)
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("knowledge: cannot fetch %s: %s", url, exc)
            continue
        text = resp.text
        if "html" in resp.headers.get("content-type", ""):
            text = html_to_text(text)
        yield Document(url, "", text)


def html_to_text(html: str) -> str:
    """Visible text of an HTML page with headings kept as Markdown headings."""
    from html.parser import HTMLParser

    class _Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []
            self.skip = 0

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag in ("script", "style"):
                self.skip += 1
            elif tag in ("h1", "h2", "h3", "h4"):
                self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
            elif tag in ("p", "li", "br", "div", "pre", "tr"):
                self.parts.append("\n\n" if tag == "p" else "\n")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("script", "style"):
                self.skip = max(0, self.skip - 1)
            elif tag in ("h1", "h2", "h3", "h4", "p"):
                self.parts.append("\n\n")

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.parts.append(data)

    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts)


def database_documents(db: KnowledgeDatabaseSettings) -> Iterator[Document]:
    """One document per row of `db.query` (SQLAlchemy URL: SQLite, PostgreSQL, ...)."""
    import sqlalchemy as sa

    engine = sa.create_engine(db.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(db.query)).mappings().all()
    finally:
        engine.dispose()
    where = public_url(db.url)
    for n, row in enumerate(rows):
        ident = row[db.id_column] if db.id_column else n
        body = row.get(db.body_column)
        if body is None:
            continue
        yield Document(f"{where}#{ident}", str(row.get(db.title_column) or ""), str(body))


def public_url(url: str) -> str:
    """A database URL without user name and password (what sources and logs show)."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return url.split("@")[-1]
    return parsed._replace(username=None, password=None).render_as_string(hide_password=True)


def collect(settings: KnowledgeSettings, client: httpx.Client | None = None) -> list[Document]:
    """Every configured source's documents; failures are logged, never fatal."""
    docs: list[Document] = []
    if settings.builtin_runbooks:
        docs += folder_documents(RUNBOOKS_DIR, "runbooks")
    for path in settings.paths:
        if not path.exists():
            log.warning("knowledge: %s does not exist", path)
            continue
        docs += folder_documents(path)
    if settings.urls:
        own = client is None
        http = client or httpx.Client()
        try:
            docs += url_documents(settings.urls, http)
        finally:
            if own:
                http.close()
    for db in settings.databases:
        try:
            docs += database_documents(db)
        except Exception as exc:  # a missing driver or bad query must not stop the others
            log.warning("knowledge: database source %s failed: %s", public_url(db.url), exc)
    return docs
