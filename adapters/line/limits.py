"""LINE's limits applied: labels, texts and alt texts cut so LINE never refuses them.

The numbers are in core/limits.py and the cutting (by grapheme, counted in UTF-16 units
as LINE counts) in core/clip.py; this only says which limit each field of ours meets.
"""

from __future__ import annotations

from adapters.line.texts import say
from core.clip import truncate_graphemes, truncate_utf16
from core.limits import LINE_ALT_TEXT, LINE_LABEL, LINE_TEXT_UTF16


def fit_label(label: str) -> str:
    return truncate_graphemes(label.strip() or say("empty_label"), LINE_LABEL)


def fit_text(text: str) -> str:
    return truncate_utf16(text, LINE_TEXT_UTF16)


def fit_alt_text(text: str) -> str:
    # Both the grapheme and the UTF-16 reading of "1500 characters" must hold; UTF-16
    # units are never fewer than graphemes, so that bound is the stricter one.
    return truncate_utf16(text.strip() or say("alt_text_fallback"), LINE_ALT_TEXT)
