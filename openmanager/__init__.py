"""OpenManager: AI-assisted server monitoring in one program.

`from openmanager import Platform` embeds it in another program (see `openmanager.embed`);
the import is lazy so the CLI starts without loading the services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Platform", "__version__"]

if TYPE_CHECKING:
    from openmanager.embed import Platform


def __getattr__(name: str) -> Any:
    if name == "Platform":
        from openmanager.embed import Platform

        return Platform
    raise AttributeError(f"module 'openmanager' has no attribute {name!r}")
