"""The support team's figures from a period's events: a pure function, no I/O.

bots/report.py reads the stream and prints what summarize() returns as text, JSON, CSV or
an HTML page. Definitions (README, "Weekly report"):

- a conversation is one customer's run of turns from a fresh start (no live session
  before it) to the next fresh start; the same hashed id a week later is a new one;
- answered_share: conversations that reached an answer card or were answered about their
  reminders (set, listed, cancelled, or asked which) / conversations;
- reminders: reminder turns by what they came to (answered turns: never 0件ヒット);
- zero_hit_share (0件ヒット率): turns not understood / turns the customer typed;
- self_resolved_share (自己解決率): 「解決した」 / all feedback presses (None: no feedback);
- drop_off: conversations that ended with neither an answer card nor a handoff, by the
  node they were left at;
- top_unmatched: texts not understood, grouped after normalisation (width, kana,
  punctuation: core.nlu.normalize), each shown in its most frequent written form.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from core.clock import JST
from core.events import FEEDBACK, REMINDER, Outcome, TurnEvent
from core.nlu.normalize import compact, normalize

TOP = 10  # rows of each ranking
# Events that belong to the conversation they follow even when recorded without a node
# (a feedback press or an operator's handoff button outside a turn).
_ATTACHED = FEEDBACK | {Outcome.HANDOFF}
# Turns that answered the customer: an answer card, or a reminder turn.
_ANSWERS = REMINDER | {Outcome.ANSWERED}
# How the reminder turns are named in the report's figures.
REMINDER_NAMES = {
    Outcome.REMIND_SCHEDULED: "scheduled",
    Outcome.REMIND_LISTED: "listed",
    Outcome.REMIND_CANCELLED: "cancelled",
    Outcome.REMIND_UNCLEAR: "unclear",
}


@dataclass(frozen=True)
class Count:
    name: str
    count: int


@dataclass(frozen=True)
class Day:
    day: date  # in JST
    turns: int
    typed: int
    not_understood: int

    @property
    def zero_hit_share(self) -> float | None:
        return self.not_understood / self.typed if self.typed else None


@dataclass(frozen=True)
class Funnel:
    """How far conversations got, for the drop-off chart."""

    conversations: int
    chose_topic: int
    answered: int
    resolved: int  # a 「解決した」 press


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    conversations: int
    turns: int
    typed: int
    answered: int  # conversations that reached an answer card or a reminder answer
    not_understood: int
    feedback: int
    resolved: int
    handoffs: int
    topics: tuple[Count, ...]
    drop_off: tuple[Count, ...]
    top_unmatched: tuple[Count, ...]
    days: tuple[Day, ...]
    funnel: Funnel
    platforms: tuple[Count, ...]
    # Reminder turns by what they came to, in REMINDER_NAMES order (zeros included).
    reminders: tuple[Count, ...] = ()

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.conversations if self.conversations else None

    @property
    def zero_hit_share(self) -> float | None:
        return self.not_understood / self.typed if self.typed else None

    @property
    def self_resolved_share(self) -> float | None:
        return self.resolved / self.feedback if self.feedback else None

    def as_dict(self) -> dict[str, object]:
        """The JSON shape (`report --format json`)."""
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "conversations": self.conversations,
            "turns": self.turns,
            "typed_turns": self.typed,
            "answered_conversations": self.answered,
            "answered_share": _round(self.answered_share),
            "not_understood": self.not_understood,
            "zero_hit_share": _round(self.zero_hit_share),
            "feedback": self.feedback,
            "resolved": self.resolved,
            "self_resolved_share": _round(self.self_resolved_share),
            "handoffs": self.handoffs,
            "platforms": [{"platform": c.name, "count": c.count} for c in self.platforms],
            "reminders": {c.name: c.count for c in self.reminders},
            "topics": [{"topic": c.name, "count": c.count} for c in self.topics],
            "drop_off": [{"node": c.name, "count": c.count} for c in self.drop_off],
            "top_unmatched": [{"text": c.name, "count": c.count} for c in self.top_unmatched],
            "daily": [
                {
                    "day": d.day.isoformat(),
                    "turns": d.turns,
                    "typed": d.typed,
                    "not_understood": d.not_understood,
                    "zero_hit_share": _round(d.zero_hit_share),
                }
                for d in self.days
            ],
            "funnel": {
                "conversations": self.funnel.conversations,
                "chose_topic": self.funnel.chose_topic,
                "answered": self.funnel.answered,
                "resolved": self.funnel.resolved,
            },
        }


def _round(share: float | None) -> float | None:
    return None if share is None else round(share, 4)


def conversations(events: Iterable[TurnEvent]) -> list[list[TurnEvent]]:
    """Events split into conversations (see the module docstring), each oldest first."""
    by_conv: dict[str, list[TurnEvent]] = defaultdict(list)
    for e in sorted(events, key=lambda e: e.ts_ms):
        by_conv[e.conv].append(e)
    out: list[list[TurnEvent]] = []
    for evs in by_conv.values():
        current: list[TurnEvent] = []
        for e in evs:
            fresh = e.node_before == "" and e.outcome not in _ATTACHED
            if current and fresh:
                out.append(current)
                current = []
            current.append(e)
        if current:
            out.append(current)
    return out


def _ranked(counter: Counter[str], top: int = TOP) -> tuple[Count, ...]:
    # Most frequent first; ties by name, so the same events always print the same report.
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(Count(name, n) for name, n in items[:top])


def _unmatched(events: Sequence[TurnEvent], top: int) -> tuple[Count, ...]:
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for e in events:
        if e.unanswered and e.text:
            groups[compact(normalize(e.text)) or e.text][e.text] += 1
    shown: Counter[str] = Counter()
    for forms in groups.values():
        # The form written most often (ties: the shortest, then alphabetical) stands for all.
        best = sorted(forms.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0][0]
        shown[best] = sum(forms.values())
    return _ranked(shown, top)


def _days(events: Sequence[TurnEvent], since: datetime, until: datetime) -> tuple[Day, ...]:
    turns: Counter[date] = Counter()
    typed: Counter[date] = Counter()
    missed: Counter[date] = Counter()
    for e in events:
        d = e.when.astimezone(JST).date()
        turns[d] += 1
        if e.typed:
            typed[d] += 1
        if e.unanswered:
            missed[d] += 1
    first, last = since.astimezone(JST).date(), until.astimezone(JST).date()
    if until.astimezone(JST).time() == datetime.min.time() and last > first:
        last = date.fromordinal(last.toordinal() - 1)  # until is exclusive
    span = range(first.toordinal(), last.toordinal() + 1)
    return tuple(Day(d, turns[d], typed[d], missed[d]) for d in (date.fromordinal(o) for o in span))


def summarize(
    events: Iterable[TurnEvent], since: datetime, until: datetime, *, top: int = TOP
) -> Report:
    """The figures for events from since (inclusive) to until (exclusive)."""
    lo, hi = since.timestamp() * 1000, until.timestamp() * 1000
    evs = [e for e in events if lo <= e.ts_ms < hi]
    convs = conversations(evs)
    topics: Counter[str] = Counter()
    drop_off: Counter[str] = Counter()
    answered = resolved_convs = chose_topic = 0
    for conv in convs:
        outcomes = {e.outcome for e in conv}
        conv_topics = {e.topic for e in conv if e.topic}
        topics.update(conv_topics)
        chose_topic += bool(conv_topics)
        if outcomes & _ANSWERS:
            answered += 1
        elif Outcome.HANDOFF not in outcomes:
            last = conv[-1]
            drop_off[last.node_after or last.node_before or "-"] += 1
        resolved_convs += Outcome.FEEDBACK_RESOLVED in outcomes
    feedback = [e for e in evs if e.outcome in FEEDBACK]
    return Report(
        since=since,
        until=until,
        conversations=len(convs),
        turns=len(evs),
        typed=sum(e.typed for e in evs),
        answered=answered,
        not_understood=sum(e.unanswered for e in evs),
        feedback=len(feedback),
        resolved=sum(e.outcome is Outcome.FEEDBACK_RESOLVED for e in feedback),
        handoffs=sum(e.outcome is Outcome.HANDOFF for e in evs),
        topics=_ranked(topics, top),
        drop_off=_ranked(drop_off, top),
        top_unmatched=_unmatched(evs, top),
        days=_days(evs, since, until),
        funnel=Funnel(len(convs), chose_topic, answered, resolved_convs),
        platforms=_ranked(Counter(e.platform for e in evs), top),
        reminders=_reminders(evs),
    )


def _reminders(events: Sequence[TurnEvent]) -> tuple[Count, ...]:
    counts = Counter(e.outcome for e in events if e.outcome in REMINDER)
    return tuple(Count(name, counts[outcome]) for outcome, name in REMINDER_NAMES.items())
