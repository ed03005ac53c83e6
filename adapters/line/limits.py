"""LINE limits the SDK does not check, and safe truncation to meet them.

LINE counts message text in UTF-16 code units (5000) and action labels in
user-perceived characters (20). Python strings are code points, so an emoji such
as 😊 is one code point but two UTF-16 units, and 👨‍👩‍👧 is five code points but one
grapheme. Cutting by code points could split a ZWJ sequence or a flag; cutting by
UTF-16 units could split a surrogate pair. We cut only between grapheme clusters.
"""

from __future__ import annotations

import unicodedata

from adapters.line.texts import say

MAX_TEXT_UTF16 = 5000
MAX_LABEL_GRAPHEMES = 20
MAX_ALT_TEXT = 1500
MAX_POSTBACK_DATA = 300
MAX_DISPLAY_TEXT = 300
MAX_MESSAGES = 5
MAX_QUICK_REPLY_ITEMS = 13
ELLIPSIS = "…"

_ZWJ = 0x200D


def _extends(cp: int) -> bool:
    """Code points that attach to the previous character instead of starting a new one."""
    if cp == _ZWJ or cp == 0x20E3:  # joiner, combining enclosing keycap
        return True
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:  # variation selectors
        return True
    if 0x1F3FB <= cp <= 0x1F3FF:  # emoji skin-tone modifiers
        return True
    if 0xE0020 <= cp <= 0xE007F:  # emoji tag sequences (subdivision flags)
        return True
    return unicodedata.category(chr(cp)) in ("Mn", "Me", "Mc")  # incl. 濁点 U+3099


def _is_regional_indicator(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def graphemes(text: str) -> list[str]:
    """Split into user-perceived characters (a pragmatic subset of UAX #29: CR LF,
    combining marks, variation selectors, skin tones, ZWJ sequences, flags)."""
    clusters: list[str] = []
    prev = ""
    ri_open = False  # the current cluster is a lone regional indicator waiting for its pair
    for ch in text:
        cp = ord(ch)
        if clusters:
            glue = (
                (prev == "\r" and ch == "\n")
                or _extends(cp)
                or ord(prev) == _ZWJ
                or (ri_open and _is_regional_indicator(cp))
            )
            if glue:
                clusters[-1] += ch
                ri_open = False
                prev = ch
                continue
        clusters.append(ch)
        ri_open = _is_regional_indicator(cp)
        prev = ch
    return clusters


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def truncate_graphemes(text: str, limit: int) -> str:
    """At most `limit` graphemes; a cut text ends with … (which counts toward the limit)."""
    parts = graphemes(text)
    if len(parts) <= limit:
        return text
    return "".join(parts[: max(limit - 1, 0)]) + ELLIPSIS


def truncate_utf16(text: str, limit: int) -> str:
    """At most `limit` UTF-16 units, cut between graphemes; a cut text ends with …."""
    if utf16_len(text) <= limit:
        return text
    budget = limit - utf16_len(ELLIPSIS)
    out: list[str] = []
    used = 0
    for g in graphemes(text):
        n = utf16_len(g)
        if used + n > budget:
            break
        out.append(g)
        used += n
    return "".join(out) + ELLIPSIS


def fit_label(label: str) -> str:
    return truncate_graphemes(label.strip() or say("empty_label"), MAX_LABEL_GRAPHEMES)


def fit_text(text: str) -> str:
    return truncate_utf16(text, MAX_TEXT_UTF16)


def fit_alt_text(text: str) -> str:
    # Both the grapheme and the UTF-16 reading of "1500 characters" must hold; UTF-16
    # units are never fewer than graphemes, so that bound is the stricter one.
    return truncate_utf16(text.strip() or say("alt_text_fallback"), MAX_ALT_TEXT)
