"""A person instead of the bot (issue 9): when the handoff is live, what the customer is
told, the card the support desk sees, and the gate that keeps the bot silent meanwhile.

The dialogue engine only says *that* a customer is to be handed over (Reply.handoff, with
the reason); this module decides *how*, from what the engine cannot know: the platform,
whether a support desk (a Slack channel) is configured, and the support hours. The turn
runner calls it; the desk itself (posting the card, its buttons) is the Slack adapter's.

Handoff state lives in the session (Session.handoff_at), so the one load of a turn tells
whether the bot must stay silent, and a deleted session ends the handoff with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from enum import StrEnum
from typing import Protocol

from core.clock import to_jst
from core.inbound import ConversationKey
from core.intent import Command, Intent, IntentKind
from core.limits import MAX_TEXTS
from core.reply import Reply
from core.session import Session
from core.texts import say

DEFAULT_TTL = 4 * 3600  # IIJBOT_HANDOFF_TTL: after this the bot answers again
DEFAULT_HOURS = "weekdays 09:00-18:00"  # IIJBOT_SUPPORT_HOURS

_HOURS = re.compile(r"^\s*(weekdays|daily)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DAYS = {"weekdays": frozenset(range(5)), "daily": frozenset(range(7))}


@dataclass(frozen=True)
class SupportHours:
    """When a person answers: 'weekdays 09:00-18:00' or 'daily 10:00-17:00', JST.
    Public holidays are not known here (a holiday inside the hours counts as open)."""

    days: str  # weekdays | daily
    start: time
    end: time

    @classmethod
    def parse(cls, spec: str) -> SupportHours:
        m = _HOURS.match(spec.lower())
        if m is None:
            raise ValueError(f"support hours {spec!r}: expected e.g. 'weekdays 09:00-18:00'")
        h1, m1, h2, m2 = (int(g) for g in m.groups()[1:])
        if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60):
            raise ValueError(f"support hours {spec!r}: not a time of day")
        start = time(h1, m1)
        end = time.max if (h2, m2) == (24, 0) else time(h2, m2)
        if not start < end:
            raise ValueError(f"support hours {spec!r}: the end must come after the start")
        return cls(days=m.group(1), start=start, end=end)

    def open_at(self, now: datetime) -> bool:
        local = to_jst(now)
        return local.weekday() in _DAYS[self.days] and self.start <= local.time() < self.end

    def describe(self) -> str:
        end = "24:00" if self.end == time.max else f"{self.end.hour}:{self.end.minute:02d}"
        start = f"{self.start.hour}:{self.start.minute:02d}"
        if self.days == "daily":
            return say("support_hours_daily", start=start, end=end)
        return say("support_hours_weekdays", start=start, end=end)


@dataclass(frozen=True)
class HandoffTicket:
    """What the support desk is shown: never the raw user id (Slack customers excepted:
    a workspace's own help desk must know whom to DM, so `mention` names them)."""

    ref: str  # the conversation's keyed hash (core.events.conversation_hash)
    platform: str
    topic: str
    facts: tuple[tuple[str, str], ...]  # (label, value) as the bot shows them
    recent: tuple[str, ...]  # the last typed messages, masked
    reason: str  # asked | unresolved | not_understood
    at: datetime
    mention: str = ""  # Slack customers: their user id, for <@…>


class HandoffDesk(Protocol):
    """Where people take over: the Slack support channel (adapters/slack/desk.py)."""

    async def open(self, ticket: HandoffTicket) -> str | None:
        """Post the ticket; the id of its thread, or None when it could not be posted (the
        customer is then given the support contacts instead, and the bot stays on)."""
        ...

    async def relay(self, thread: str, masked: str) -> bool:
        """What the customer wrote while a person has the chat, into the card's thread."""
        ...


class HandoffIndex(Protocol):
    """The conversation behind a ticket's ref, for the desk's 「ボットに戻す」 button:
    the ref on the card is a hash, the raw id stays in Redis (core/store/handoffs.py)."""

    async def remember(self, ref: str, key: ConversationKey, ttl: int, thread: str = "") -> None:
        """thread: the card's thread, where later messages are relayed."""
        ...

    async def lookup(self, ref: str) -> ConversationKey | None: ...

    async def thread(self, ref: str) -> str | None: ...

    async def forget(self, ref: str) -> None: ...


class Route(StrEnum):
    """How a handoff the engine asked for is carried out."""

    LIVE = "live"  # a person answers in this chat; the bot goes silent
    CLOSED = "closed"  # outside support hours: the phone and web form instead
    CONTACTS = "contacts"  # no support desk: the phone and web form


@dataclass(frozen=True)
class HandoffPolicy:
    hours: SupportHours | None = None  # None: people answer at any time
    ttl: int = DEFAULT_TTL
    desk_ready: bool = False  # a desk (Slack channel) is configured

    def route(self, now: datetime) -> Route:
        if not self.desk_ready:
            return Route.CONTACTS
        if self.hours is not None and not self.hours.open_at(now):
            return Route.CLOSED
        return Route.LIVE

    def notice(self, route: Route, platform: str) -> str:
        hours = self.hours.describe() if self.hours is not None else ""
        if route is Route.CONTACTS:
            return say("handoff_contacts")
        if route is Route.CLOSED:
            return say("handoff_closed", hours=hours)
        if platform == "slack":
            return say("handoff_live_slack", hours=hours)
        return say("handoff_live_line", hours=hours)

    def active(self, session: Session | None, now: datetime) -> bool:
        return session is not None and 0 < session.handoff_at <= now.timestamp() < (
            session.handoff_at + self.ttl
        )


@dataclass(frozen=True)
class HandoffSetup:
    """Everything the turn runner needs to hand a customer over (bots/server.py builds it
    from the settings; the default hands nobody over live and gives the contacts)."""

    policy: HandoffPolicy = field(default_factory=HandoffPolicy)
    desk: HandoffDesk | None = None
    index: HandoffIndex | None = None

    @classmethod
    def build(
        cls,
        *,
        desk: HandoffDesk | None,
        index: HandoffIndex | None,
        hours: SupportHours | None,
        ttl: int = DEFAULT_TTL,
    ) -> HandoffSetup:
        ready = desk is not None and index is not None
        policy = HandoffPolicy(hours=hours, ttl=ttl, desk_ready=ready)
        return cls(policy=policy, desk=desk, index=index)


def carry_out(
    policy: HandoffPolicy, session: Session, reply: Reply, platform: str, now: datetime
) -> tuple[Session, Reply, Route]:
    """A turn whose reply asks for a handoff: the session marked (LIVE only) and the reply
    saying what happens next. A live handoff offers no buttons: the bot will not answer
    them until it is back."""
    route = policy.route(now)
    texts = (*reply.texts, policy.notice(route, platform))
    if route is Route.LIVE:
        session = replace(session, handoff_at=now.timestamp())
        return session, replace(reply, texts=fit(texts), choices=()), route
    return session, replace(reply, texts=fit(texts)), route


def released(session: Session) -> Session:
    return replace(session, handoff_at=0.0)


class Gate(StrEnum):
    """What a turn does with a conversation that is, or was, handed off."""

    OPEN = "open"  # not handed off: an ordinary turn
    SILENT = "silent"  # a person has it: record, answer nothing
    RESUME = "resume"  # the customer said 「ボットに戻る」: back to the bot
    EXPIRED = "expired"  # the handoff TTL passed: back to the bot, and say so


def gate(policy: HandoffPolicy, session: Session | None, intent: Intent, now: datetime) -> Gate:
    if session is None or not session.handoff_at:
        return Gate.OPEN
    if not policy.active(session, now):
        return Gate.EXPIRED
    if intent.kind is IntentKind.COMMAND and intent.value == Command.BOT:
        return Gate.RESUME
    if intent.kind is IntentKind.FORGET or (
        intent.kind is IntentKind.COMMAND and intent.value == Command.ERASE
    ):
        return Gate.OPEN  # unfollow, 「データを削除」: everything goes, handoff included
    return Gate.SILENT


def fit(texts: tuple[str, ...]) -> tuple[str, ...]:
    """At most MAX_TEXTS bubbles: the leading ones are merged when a notice is added."""
    items = [t for t in texts if t.strip()]
    while len(items) > MAX_TEXTS:
        items[0:2] = [items[0] + "\n" + items[1]]
    return tuple(items)
