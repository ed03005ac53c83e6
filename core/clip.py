"""Measuring and cutting text the way the platforms count it, for every renderer.

LINE counts message text in UTF-16 code units (5000) and action labels in user-perceived
characters (20); Slack counts in characters, which is never more than UTF-16 units, so a
text cut to fit in UTF-16 units fits either way. Python strings are code points: an emoji
such as 😊 is one code point but two UTF-16 units, and 👨‍👩‍👧 is five code points but one
grapheme. Cutting by code points could split a ZWJ sequence or a flag; cutting by UTF-16
units could split a surrogate pair. We cut only between grapheme clusters.
"""

from __future__ import annotations

import unicodedata

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


def utf16_prefix(text: str, limit: int) -> str:
    """The longest start of `text` of at most `limit` UTF-16 units, cut between graphemes."""
    out: list[str] = []
    used = 0
    for g in graphemes(text):
        n = utf16_len(g)
        if used + n > limit:
            break
        out.append(g)
        used += n
    return "".join(out)


def truncate_utf16(text: str, limit: int) -> str:
    """At most `limit` UTF-16 units, cut between graphemes; a cut text ends with …."""
    if utf16_len(text) <= limit:
        return text
    return utf16_prefix(text, limit - utf16_len(ELLIPSIS)) + ELLIPSIS
