"""What a typed message asks of reminders: to be reminded, to see them, to stop them, or
only that it is about them (then the bot asks which). The words are data
(core/policy/reminders.yaml `words:`); the message is read the way core.nlu reads one
(normalised, respelled, its negation pattern), so width, kana and politeness do not
matter and a slip in リマインド is forgiven.

A message is about reminders when it names them (リマインド, with one slip), or says
"let me know" with a time word or an action after it (期限の前に教えて, 通知いらない)
and nothing else in it is a topic of the dialogue: 解約の通知は来ますか and
MNPの期限を教えて stay questions about cancelling and MNP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.remind.plan import SCHEDULE_PATH
from core.yaml_data import load_yaml

if TYPE_CHECKING:
    from core.nlu.lexicon import Lexicon

# Stands in for the reminder words when the rest of a message is scored for topics: no
# lexicon word spans it, so what was on either side does not join into a new word.
_GAP = "\0"


class Ask(StrEnum):
    SCHEDULE = "schedule"
    LIST = "list"
    CANCEL = "cancel"
    UNSURE = "unsure"  # about reminders, but which of the three is not said


@dataclass(frozen=True)
class Words:
    """The `words:` lists, in the compact form messages are compared in."""

    names: tuple[str, ...]
    notify: tuple[str, ...]
    tell: tuple[str, ...]
    when: tuple[str, ...]
    cancel: tuple[str, ...]
    list: tuple[str, ...]
    schedule: tuple[str, ...]
    negated_by: tuple[str, ...]
    slips: re.Pattern[str] | None = None  # the names with one slip (_slip_pattern)


def parse_words(raw: Any) -> Words:
    from core.nlu.lexicon import key

    if not isinstance(raw, dict):
        raise ValueError("reminders.yaml: words must be a mapping of lists")

    def forms(name: str) -> tuple[str, ...]:
        items = raw.get(name)
        if not isinstance(items, list) or not items:
            raise ValueError(f"reminders.yaml: words.{name} must be a non-empty list")
        # Longest first: a longer word claims its characters before a word inside it.
        return tuple(sorted({key(str(w)) for w in items} - {""}, key=len, reverse=True))

    names = forms("names")
    return Words(
        names=names,
        notify=forms("notify"),
        tell=forms("tell"),
        when=forms("when"),
        cancel=forms("cancel"),
        list=forms("list"),
        schedule=forms("schedule"),
        negated_by=forms("negated_by"),
        slips=_slip_pattern(names),
    )


@cache
def load_words(path: Path = SCHEDULE_PATH) -> Words:
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    return parse_words(data.get("words") if isinstance(data, dict) else None)


def _found(words: tuple[str, ...], text: str) -> Iterator[tuple[int, int]]:
    for w in words:
        at = text.find(w)
        while at >= 0:
            yield at, at + len(w)
            at = text.find(w, at + 1)


def _slip_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """Every way a name can be typed with one character replaced or two neighbours
    swapped, as one pattern (a message is searched at C speed; one_slip then checks the
    slip stayed in the name's script). Only kana/latin names long enough that a slip of
    them is no other word (core.nlu.scoring.typo_limit)."""
    from core.nlu.scoring import typo_limit

    forms: set[str] = set()
    for name in names:
        if not typo_limit(name):
            continue
        esc = [re.escape(ch) for ch in name]
        forms |= {"".join(esc[:i]) + "." + "".join(esc[i + 1 :]) for i in range(len(name))}
        forms |= {
            "".join(esc[:i]) + esc[i + 1] + esc[i] + "".join(esc[i + 2 :])
            for i in range(len(name) - 1)
        }
    return re.compile("|".join(sorted(forms))) if forms else None


def _slipped(w: Words, text: str) -> Iterator[tuple[int, int]]:
    """Names typed with a slip (リマインと, リマンイド)."""
    from core.nlu.scoring import one_slip

    if w.slips is None:
        return
    for m in w.slips.finditer(text):
        if any(len(name) == m.end() - m.start() and one_slip(name, m.group()) for name in w.names):
            yield m.start(), m.end()


def read(text: str, words: Words | None = None) -> Ask | None:
    """What ``text`` asks of reminders; None when it is not about them."""
    from core.nlu.lexicon import load_lexicon
    from core.nlu.normalize import compact, normalize

    lex = load_lexicon()
    w = words or load_words()
    whole = lex.respell(compact(normalize(text if isinstance(text, str) else "")))
    if not whole:
        return None
    negation = lex.index.negation if lex.index is not None else None

    def taken_back(end: int) -> bool:
        if whole.startswith(w.negated_by, end):  # 止め|ないで: nothing stands between
            return True
        return negation is not None and negation.match(whole, end) is not None

    names = sorted({*_found(w.names, whole), *_slipped(w, whole)})
    notify = sorted(_found(w.notify, whole))
    when = list(_found(w.when, whole))
    anchors = names or notify or (sorted(_found(w.tell, whole)) if when else [])
    if not anchors:
        return None
    start = anchors[0][0]
    # The action is the predicate: what follows the name (初期契約解除のリマインド holds
    # no cancel), unless a negation takes it back (リマインドを止めないで).
    after = whole[start:]
    actions = {
        name: [(start + s, start + e) for s, e in _found(found, after) if not taken_back(start + e)]
        for name, found in (("cancel", w.cancel), ("list", w.list), ("schedule", w.schedule))
    }
    cancel = bool(actions["cancel"]) or any(taken_back(e) for _, e in anchors)
    listing = bool(actions["list"])
    if not names:
        # "Let me know" alone is no reminder: only with a time word or an action, and only
        # when the rest of the message is about nothing the dialogue answers.
        if not (when or cancel or listing or actions["schedule"]):
            return None
        spans = [*anchors, *when, *(span for found in actions.values() for span in found)]
        if _names_a_topic(whole, spans, lex):
            return None
        if cancel:
            # Without the word リマインド a stop is no sure thing (メールの通知を止めたい):
            # the list, whose buttons cancel, rather than everything cancelled at once.
            return Ask.LIST
    if cancel and not listing:
        return Ask.CANCEL
    if listing:
        # The list carries a cancel button for each: what リマインドを確認して消したい wants.
        return Ask.LIST
    if actions["schedule"] or when or not names:
        return Ask.SCHEDULE
    return Ask.UNSURE


def _names_a_topic(whole: str, spans: list[tuple[int, int]], lex: Lexicon) -> bool:
    """Whether the message, its reminder words left out, names a topic (or off-topic)."""
    from core.nlu.lexicon import score_map

    rest, pos = [], 0
    for s, e in sorted(spans):
        if s >= pos:
            rest.append(whole[pos:s])
            rest.append(_GAP)
            pos = e
        else:
            pos = max(pos, e)
    rest.append(whole[pos:])
    scores: dict[str, float] = score_map("".join(rest), lex, typos=False)
    return any(sc >= lex.scoring.min_score for sc in scores.values())
