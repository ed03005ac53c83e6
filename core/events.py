"""What one turn leaves behind for the support team: a small, anonymised event.

Every turn (and every feedback press or handoff) becomes one TurnEvent in a Redis Stream
(core/store/redis.py writes it in the same round trip as the session commit). The report
(core/report.py, `iijmio-bot report`) reads nothing else. An event never carries the
platform user id (only a keyed hash of the conversation) and carries text only for turns
the bot did not understand, masked by core.mask first.

Who writes events:
- TurnRunner.run builds one per committed turn (classify() below picks the outcome) and
  hands it to SessionStore.commit(..., event=...), which appends it atomically with the
  session (or drops it and counts iijbot_events_dropped_total; a turn never fails for it).
- Anything outside a turn (an operator's button in Slack) calls SessionStore.record(key,
  event), best effort, same stream. So does a reminder turn (TurnRunner._aside): it
  commits no session, so its event cannot ride on a commit.
- SessionStore.erase(key, conv) deletes a conversation's session, reminders and events.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from core.inbound import ConversationKey, InboundKind
from core.intent import Intent, IntentKind
from core.reply import Reply

# Keys of the stream entry. Short, because a 90-day stream holds millions of them.
F_TS = "ts"  # milliseconds since the epoch (UTC)
F_PLATFORM = "p"
F_CONV = "c"
F_BEFORE = "nb"
F_AFTER = "na"
F_OUTCOME = "o"
F_TOPIC = "t"
F_INPUT = "i"
F_INTENT = "k"
F_TEXT = "x"
F_MISSED = "m"  # "1": typed text the bot could not read, whatever the outcome


class Outcome(StrEnum):
    """How a turn ended, as the support team counts it."""

    ANSWERED = "answered"  # an answer card was shown
    QUESTION = "question"  # the bot asked the next question / showed a menu
    NOT_UNDERSTOOD = "not_understood"  # typed text the bot could not read (0件ヒット)
    FALLBACK = "fallback"  # understood, but out of scope (weather, APN...): pointed elsewhere
    HANDOFF = "handoff"  # handed to a person (or told the support contacts)
    FEEDBACK_RESOLVED = "feedback_resolved"  # 「解決した」 pressed
    FEEDBACK_UNRESOLVED = "feedback_unresolved"  # 「解決しない」 pressed
    # Reminders (issue 10), answered beside the conversation: each is an answered turn.
    REMIND_SCHEDULED = "remind_scheduled"  # reminders set (button or typed 「リマインドして」)
    REMIND_LISTED = "remind_listed"  # 「リマインド一覧」
    REMIND_CANCELLED = "remind_cancelled"  # one or all cancelled
    # About reminders but nothing set: asked which was meant, no deadline on screen, or
    # no time left to remind at.
    REMIND_UNCLEAR = "remind_unclear"


# The terminal chat's conversations are keyed "cli"; the report calls that platform "text".
_PLATFORM_NAMES = {"cli": "text"}


def platform_name(platform: str) -> str:
    return _PLATFORM_NAMES.get(platform, platform)


# Only these turns keep (masked) text: they are what the lexicon is tuned from.
TEXT_KEPT = frozenset({Outcome.NOT_UNDERSTOOD})
FEEDBACK = frozenset({Outcome.FEEDBACK_RESOLVED, Outcome.FEEDBACK_UNRESOLVED})
REMINDER = frozenset(
    {
        Outcome.REMIND_SCHEDULED,
        Outcome.REMIND_LISTED,
        Outcome.REMIND_CANCELLED,
        Outcome.REMIND_UNCLEAR,
    }
)


@dataclass(frozen=True)
class TurnEvent:
    ts_ms: int  # when the turn happened, ms since the epoch (UTC)
    platform: str  # line | slack | text
    conv: str  # conversation_hash(): never the raw user id
    node_before: str  # "" when there was no live session
    node_after: str  # "" when the turn ended the conversation
    outcome: Outcome
    topic: str = ""  # the topic id the conversation is about, when known
    input: str = ""  # InboundKind value: text, choice, date, start, no_input, forget
    intent: str = ""  # IntentKind value (command:<name> for commands)
    text: str = ""  # masked; only for unanswered turns
    # Typed text the bot could not read, also when the outcome says what it led to (the
    # third miss in a row hands off: a handoff, and still unanswered).
    missed: bool = False

    @property
    def unanswered(self) -> bool:
        """Counts in 0件ヒット率 and keeps its (masked) text for the unanswered list."""
        return self.outcome in TEXT_KEPT or self.missed

    @property
    def typed(self) -> bool:
        """The customer typed this turn (the denominator of 0件ヒット率)."""
        return self.input == "text"

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.ts_ms / 1000, tz=UTC)

    def to_fields(self) -> dict[str, str]:
        """The stream entry. Empty fields are left out to keep entries small."""
        fields = {
            F_TS: str(self.ts_ms),
            F_PLATFORM: self.platform,
            F_CONV: self.conv,
            F_BEFORE: self.node_before,
            F_AFTER: self.node_after,
            F_OUTCOME: self.outcome.value,
            F_TOPIC: self.topic,
            F_INPUT: self.input,
            F_INTENT: self.intent,
            F_TEXT: self.text if self.unanswered else "",
            F_MISSED: "1" if self.missed else "",
        }
        return {k: v for k, v in fields.items() if v}

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> TurnEvent:
        """A stream entry back as an event. Raises ValueError on an entry that is not one."""
        try:
            outcome = Outcome(fields[F_OUTCOME])
            ts = int(fields[F_TS])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"not a turn event: {exc}") from None
        return cls(
            ts_ms=ts,
            platform=fields.get(F_PLATFORM, ""),
            conv=fields.get(F_CONV, ""),
            node_before=fields.get(F_BEFORE, ""),
            node_after=fields.get(F_AFTER, ""),
            outcome=outcome,
            topic=fields.get(F_TOPIC, ""),
            input=fields.get(F_INPUT, ""),
            intent=fields.get(F_INTENT, ""),
            text=fields.get(F_TEXT, ""),
            missed=fields.get(F_MISSED) == "1",
        )


def classify(kind: InboundKind, intent: Intent | None, reply: Reply, *, missed: bool) -> Outcome:
    """The outcome of a committed turn. missed: the dialogue counted it as a no-match (its
    no_match counter went up). The one place to teach new outcomes (feedback, handoff)."""
    # Issue 9: what the reply says the turn was for comes first (a 「解決した」 press
    # shows no card; a handoff after three misses counts as a handoff).
    if reply.feedback == "resolved":
        return Outcome.FEEDBACK_RESOLVED
    if reply.feedback == "unresolved":
        return Outcome.FEEDBACK_UNRESOLVED
    if reply.handoff:
        return Outcome.HANDOFF
    if reply.card is not None:
        return Outcome.ANSWERED
    intent_kind = intent.kind if intent is not None else None
    if intent_kind is IntentKind.OFF_TOPIC:
        return Outcome.FALLBACK
    if kind is InboundKind.TEXT and (intent_kind is IntentKind.UNKNOWN or missed):
        return Outcome.NOT_UNDERSTOOD
    return Outcome.QUESTION


def intent_label(intent: Intent | None) -> str:
    """The intent as the report shows it: command:end, topic, choice..."""
    if intent is None:
        return ""
    if intent.kind is IntentKind.COMMAND:
        return f"command:{intent.value}"
    return intent.kind.value


def conversation_hash(key: ConversationKey, secret: bytes) -> str:
    """A keyed hash (HMAC-SHA256, IIJBOT_HASH_KEY) of the conversation: stable, so the report
    can count conversations and a deletion can find them, but not reversible to the user id
    without the key. 32 hex digits (128 bits) are plenty to keep conversations apart."""
    return hmac.new(secret, key.tag.encode(), hashlib.sha256).hexdigest()[:32]


def to_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)
