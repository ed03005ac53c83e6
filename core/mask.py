"""Personal data out of a message before it is stored: a pure function, no I/O.

The report keeps the text of turns the bot did not understand, so the team can teach the
lexicon new phrasings. Customers put personal data in such messages (「090-1234-5678に
電話ください」, an MNP予約番号, an e-mail), so every such text passes through mask() first.
Runs of digits are judged as a whole, separators included (「０９０ー１２３４ー５６７８」,
「03 (1234) 5678」), so a number split by hyphens or spaces is caught in either width.
"""

from __future__ import annotations

import re

PHONE = "<電話番号>"
EMAIL = "<メール>"
NUMBER = "<数字>"
POSTAL = "<郵便番号>"
URL = "<URL>"

# A run of this many digits (or more) is an identifier of some kind: MNP予約番号 (10),
# SIM/ICCID, card and account numbers, one-time codes (6). Amounts and dates are shorter.
LONG_DIGITS = 6

# Full-width ASCII (！ to ～) to ASCII, the ideographic space to a space and the dashes
# customers type between digit groups to a hyphen (長音符 included: IMEs give 「090ー1234」
# when the hyphen key is pressed in kana mode). One character for one, so a match in the
# folded text has the same span in the original and unmasked text is kept as typed.
_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_DASHES = re.compile(r"(?<=\d)[ー－ｰ‐‑‒–—―−](?=\s?\d)|(?<=\d\s)[ー－ｰ‐‑‒–—―−](?=\d)")

_PATTERN = re.compile(
    r"(?P<url>https?://[^\s<>\"]*\?[^\s<>\"]*)"
    r"|(?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
    r"|(?P<postal>〒\s?\d{3}-?\d{4}(?!\d))"
    # A digit run with its separators: a hyphen (spaced or not), one space, parentheses.
    r"|(?P<run>(?:\+\s?)?\(?\d+(?:(?:\s?-\s?|\s|\)\s?|\s?\()\d+)*)",
    re.IGNORECASE,
)
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_PLACEHOLDER = {"url": URL, "email": EMAIL, "postal": POSTAL}


def _fold(text: str) -> str:
    return _DASHES.sub("-", text.translate(_WIDTH))


def _digit_run(run: str) -> str | None:
    """The placeholder for a run of digits, or None to keep it."""
    digits = re.sub(r"\D", "", run)
    groups = [len(g) for g in re.split(r"\D+", run) if g]
    if run.lstrip("(").startswith("+81") and 11 <= len(digits) <= 12:
        return PHONE
    if groups == [3, 4] and "-" in run:
        return POSTAL
    if digits.startswith("0") and 10 <= len(digits) <= 11:
        return PHONE
    date = _DATE.fullmatch(run)
    if date and 1 <= int(date.group(2)) <= 12 and 1 <= int(date.group(3)) <= 31:
        return None  # 2026-11-30 is a date the customer told us, not an identifier
    if len(digits) >= LONG_DIGITS:
        return NUMBER
    return None


def mask(text: str) -> str:
    """text with phone numbers, e-mail addresses, postal codes, long digit runs and URLs
    that carry a query string replaced by placeholders; everything else as typed."""
    folded = _fold(text)
    assert len(folded) == len(text)  # the fold maps one character to one
    out: list[str] = []
    last = 0
    for m in _PATTERN.finditer(folded):
        kind = m.lastgroup or ""
        replacement = _PLACEHOLDER.get(kind) or _digit_run(m.group(0))
        if replacement is None:
            continue
        out.append(text[last : m.start()])
        out.append(replacement)
        last = m.end()
    out.append(text[last:])
    return "".join(out)
