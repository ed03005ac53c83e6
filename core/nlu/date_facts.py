"""Every date a message states, with its role: what it is the date *of*.

「6月20日から使ってる」 is a start date, 「届いてから5日たちました」 a receipt date, 「11/30に解約
予定」 a cancellation date. The role comes from the nearest role word (lexicon date_roles)
in the same clause: after the date first (6/20に契約した), before it for a length of time
(契約して3日目). A date with no role word near it has role NONE: it only answers a question
that asks for a bare date, never a topic's question (「今日の天気は？」 is no start date).
"""

from __future__ import annotations

from core.intent import DateFact, DateRole
from core.nlu.dates import DateParse
from core.nlu.lexicon import Lexicon

ROLE_REACH = 12  # characters either side of a date a role word is looked for in
_BOUNDARIES = ".?!\n"  # a role word does not reach across a sentence


def _after(flat: str, end: int) -> str:
    window = flat[end : end + ROLE_REACH]
    cut = min((i for i, ch in enumerate(window) if ch in _BOUNDARIES), default=len(window))
    return window[:cut]


def _before(flat: str, start: int) -> str:
    window = flat[max(0, start - ROLE_REACH) : start]
    cut = max((i for i, ch in enumerate(window) if ch in _BOUNDARIES), default=-1)
    return window[cut + 1 :]


def _nearest(window: str, lex: Lexicon, *, from_end: bool) -> tuple[int, DateRole] | None:
    """The role word nearest the date in ``window``: (distance, role)."""
    best: tuple[int, DateRole] | None = None
    for word, role in lex.date_roles:  # longest first: 解約予定 before 予定
        at = window.rfind(word) if from_end else window.find(word)
        if at < 0:
            continue
        distance = len(window) - (at + len(word)) if from_end else at
        if best is None or distance < best[0]:
            best = (distance, role)
    return best


def role_of(flat: str, found: DateParse, lex: Lexicon) -> DateRole:
    after = _nearest(_after(flat, found.end), lex, from_end=False)
    before = _nearest(_before(flat, found.start), lex, from_end=True)
    # 届いてから5日たった: a length of time follows what it counts from.
    first, second = (before, after) if found.how == "elapsed" else (after, before)
    chosen = first or second
    return chosen[1] if chosen else DateRole.NONE


def date_facts(flat: str, scanned: tuple[DateParse, ...], lex: Lexicon) -> tuple[DateFact, ...]:
    """The dates a message states (``scanned`` = scan_dates of its ``flat`` form), in the
    order written; impossible ones are left out (the date question says so when asked)."""
    out: list[DateFact] = []
    for found in sorted(scanned, key=lambda f: f.start):
        if found.date is None and not found.candidates:
            continue
        out.append(
            DateFact(
                role=role_of(flat, found, lex),
                date=found.date,
                candidates=found.candidates,
                said=found.matched,
            )
        )
    return tuple(out)
