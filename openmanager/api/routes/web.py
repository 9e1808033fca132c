"""The dashboard: `index.html` at `/` and the packaged static assets under `/static/`.

Assets ship inside the package (no build step); they are served gzip-compressed when the
browser accepts it, with an ETag so reloads cost a 304.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request, Response

from openmanager.errors import NotFound

router = APIRouter(include_in_schema=False)

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "web" / "static"
"""Where the dashboard's files live inside the installed package."""

COMPRESSIBLE = (".html", ".js", ".css", ".json", ".svg", ".txt")


@lru_cache(maxsize=128)
def _load(path: Path, mtime_ns: int) -> tuple[bytes, bytes, str]:
    """(raw, gzipped, etag) of one file, cached until it changes on disk."""
    raw = path.read_bytes()
    return raw, gzip.compress(raw, 9, mtime=0), '"' + hashlib.sha1(raw).hexdigest()[:16] + '"'


def asset(request: Request, relative: str) -> Response:
    """One static file, 304 when unchanged, gzip when accepted."""
    path = (STATIC_DIR / relative).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise NotFound(f"no dashboard file {relative!r}")
    raw, packed, etag = _load(path, path.stat().st_mtime_ns)
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        kind = "text/javascript"
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if path.suffix in COMPRESSIBLE and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type=kind, headers=headers)
    return Response(raw, media_type=kind, headers=headers)


@router.get("/")
async def index(request: Request) -> Response:
    """The dashboard's single page."""
    return asset(request, "index.html")


@router.get("/static/{relative:path}")
async def static(relative: str, request: Request) -> Response:
    """The dashboard's scripts, styles and the vendored uPlot."""
    return asset(request, relative)
