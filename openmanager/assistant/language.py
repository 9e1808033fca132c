"""Which language to answer in: Korean when the question has Hangul, English otherwise."""

from __future__ import annotations

import re

_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")

LANGUAGES = ("en", "ko")


def detect_language(text: str) -> str:
    """`ko` if the text contains Hangul syllables or letters, else `en`."""
    return "ko" if _HANGUL.search(text) else "en"
