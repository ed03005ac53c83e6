"""The platform-neutral reply model. Renderers map it to LINE, Slack or plain text.

Its limits (core/limits.py) are the strictest of the platforms we render to, so a Reply
that validates renders everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.clock import format_date_ja
from core.limits import (
    MAX_CARD_NOTES,
    MAX_CARD_ROWS,
    MAX_CARD_STEPS,
    MAX_CHOICES,
    MAX_LABEL,
    MAX_NOTE,
    MAX_ROW_VALUE,
    MAX_TEXT,
    MAX_TEXTS,
    MAX_TITLE,
    MAX_VALUE,
)
from core.texts import say

# Choice values the dialogue honours at whatever node the conversation is at: a topic
# ("topic:<id>", e.g. an App Home button) and the way back to the menu.
TOPIC_PREFIX = "topic:"
NAV_MENU = "nav:menu"
# 「解決した」「解決しない」 under every answer card (issue 9): acted on at the card's node.
FEEDBACK_RESOLVED = "fb:resolved"
FEEDBACK_UNRESOLVED = "fb:unresolved"
FEEDBACK_PREFIX = "fb:"


class ReplyLimitError(ValueError):
    pass


@dataclass(frozen=True)
class Choice:
    label: str
    value: str


@dataclass(frozen=True)
class FactRow:
    label: str
    value: str


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Card:
    """An answer card: the facts for *this* user, where they come from, as of when."""

    title: str
    rows: tuple[FactRow, ...] = ()
    steps: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    link: Link | None = None  # the official page
    source: str = ""  # e.g. "IIJmio会員規約・公式ヘルプ (R3)"
    as_of: date | None = None  # the date of the rule data used


@dataclass(frozen=True)
class DateQuestion:
    prompt: str
    initial: date
    min: date
    max: date


@dataclass(frozen=True)
class Reply:
    node: str
    texts: tuple[str, ...] = ()
    card: Card | None = None
    choices: tuple[Choice, ...] = ()
    date_question: DateQuestion | None = None
    # What the turn meant for the support team's figures (the event stream records it):
    # feedback "resolved" / "unresolved" when a feedback button was pressed; handoff, the
    # reason the customer is to be handed to a person ("asked", "unresolved",
    # "not_understood"): the turn runner then arranges it and says what happens next.
    feedback: str = ""
    handoff: str = ""

    @property
    def asks_date(self) -> bool:
        return self.date_question is not None

    def readable_texts(self) -> list[str]:
        """Everything the user reads, in order, card included (the CLI and --json use it)."""
        out = list(self.texts)
        if self.card is not None:
            out.append(card_as_text(self.card))
        if self.date_question is not None:
            out.append(self.date_question.prompt)
        return out

    def validate(self) -> None:
        if len(self.texts) > MAX_TEXTS:
            raise ReplyLimitError(f"{self.node}: {len(self.texts)} texts > {MAX_TEXTS}")
        for t in self.texts:
            _check_text(self.node, t, MAX_TEXT)
        if self.card is not None:
            c = self.card
            _check_text(self.node, c.title, MAX_TITLE)
            if (
                len(c.rows) > MAX_CARD_ROWS
                or len(c.steps) > MAX_CARD_STEPS
                or len(c.notes) > MAX_CARD_NOTES
            ):
                raise ReplyLimitError(f"{self.node}: card has too many rows, steps or notes")
            for r in c.rows:
                _check_text(self.node, r.label, MAX_TITLE)
                _check_text(self.node, r.value, MAX_ROW_VALUE)
            for s in (*c.steps, *c.notes):
                _check_text(self.node, s, MAX_NOTE)
            if c.link is not None:
                _check_label(self.node, c.link.label)
        if len(self.choices) > MAX_CHOICES:
            raise ReplyLimitError(f"{self.node}: {len(self.choices)} choices > {MAX_CHOICES}")
        for ch in self.choices:
            _check_label(self.node, ch.label)
            if not ch.value or len(ch.value) > MAX_VALUE:
                raise ReplyLimitError(f"{self.node}: bad choice value {ch.value!r}")
        if self.date_question is not None:
            _check_text(self.node, self.date_question.prompt, MAX_TEXT)


def _check_text(node: str, text: str, limit: int) -> None:
    if not text.strip():
        raise ReplyLimitError(f"{node}: empty text")
    if len(text) > limit:
        raise ReplyLimitError(f"{node}: text of {len(text)} chars > {limit}")


def _check_label(node: str, label: str) -> None:
    if not label.strip() or len(label) > MAX_LABEL:
        raise ReplyLimitError(f"{node}: label {label!r} empty or longer than {MAX_LABEL}")


def format_source_line(card: Card) -> str:
    parts = []
    if card.source:
        parts.append(say("card_source", source=card.source))
    if card.as_of is not None:
        parts.append(say("card_as_of", date=format_date_ja(card.as_of)))
    return " / ".join(parts)


def card_as_text(card: Card) -> str:
    lines = [f"■ {card.title}"]
    lines += [f"・{r.label}: {r.value}" for r in card.rows]
    lines += [f"{i}. {s}" for i, s in enumerate(card.steps, 1)]
    lines += [f"※ {n}" for n in card.notes]
    if card.link is not None:
        lines.append(f"{card.link.label}: {card.link.url}")
    src = format_source_line(card)
    if src:
        lines.append(src)
    return "\n".join(lines)
