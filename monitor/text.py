"""Making hostile Hub text safe to show on a terminal."""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the bidi/zero-width format characters that can reorder or hide text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def for_terminal(value: object, limit: int = 300) -> str:
    """One line, no control characters (ESC, OSC 8, CR/LF...), at most `limit` characters."""
    text = _CONTROL.sub("\N{REPLACEMENT CHARACTER}", str(value))
    # Lone surrogates cannot be encoded for output.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"
