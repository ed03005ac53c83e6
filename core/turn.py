"""One turn: load → understand → step → commit, re-run on a lost compare-and-swap.

The reply is handed back only once the session it came from is committed, so a user is never
answered from a state that was then thrown away. A redelivered event (same event id) is
acknowledged without a second answer.

TurnRunner is the adapters' one door into the core: besides a turn it answers the few
questions a platform asks without running one (the choices a conversation offers now, the
question it waits on, the menu). Adapters import this module, core.reply, core.inbound and
value types, never the store or the dialogue engine (tests/unit/test_layers.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol

from core import handoff
from core.clock import Clock, today_jst
from core.events import (
    TEXT_KEPT,
    TurnEvent,
    classify,
    conversation_hash,
    intent_label,
    platform_name,
    to_ms,
)
from core.handoff import Gate, HandoffSetup, HandoffTicket, Route
from core.inbound import ConversationKey, Inbound, InboundKind
from core.intent import Command, Expectation, Intent, IntentKind
from core.mask import mask
from core.metrics import COMMIT_CONFLICTS, INTENTS, TURN_SECONDS, TURNS
from core.remind.service import Handled, Reminders
from core.reply import Reply
from core.session import Session
from core.store.base import EVENT_TTL, CommitStatus, Loaded, SessionStore, StoreUnavailable
from core.texts import say

# StoreUnavailable is re-exported: it is one of the two ways a turn can fail, and an
# adapter must be able to catch it without reaching into the store.
# HandoffTicket too: the support desk an adapter implements is handed one.
__all__ = [
    "DEDUPE_WINDOW",
    "Dialogue",
    "HandoffTicket",
    "StoreUnavailable",
    "TurnConflict",
    "TurnOutcome",
    "TurnRunner",
    "Understand",
]

log = logging.getLogger("iijbot.turn")

# Seconds an event id is remembered after its turn committed: a delivery of the same event
# within this window is answered with nothing. Adapters refuse events older than this that
# nothing else would stop (a replayed body), so they must know it.
DEDUPE_WINDOW = EVENT_TTL

Understand = Callable[[str, Expectation, date], Intent]

# Backoff before re-running a conflicted turn: full jitter, doubling from BASE up to CAP
# (tuned so 50 turns racing on one conversation all land within the 8 default attempts).
# Racing turns of one conversation are spread apart instead of colliding again in lockstep.
BACKOFF_BASE = 0.005
BACKOFF_CAP = 0.1

_PASSTHROUGH = {
    InboundKind.START: IntentKind.START,
    InboundKind.NO_INPUT: IntentKind.NO_INPUT,
    InboundKind.FORGET: IntentKind.FORGET,
}


class Dialogue(Protocol):
    # Read-only, so both a plain attribute and a property (FlowDialogue) satisfy it.
    @property
    def flow_version(self) -> str: ...

    def expectation(self, session: Session | None) -> Expectation: ...

    def step(
        self, session: Session | None, intent: Intent, now: datetime, *, expired: bool = False
    ) -> tuple[Session | None, Reply]: ...

    def menu(self, now: datetime, *, anywhere: bool = False) -> Reply: ...

    def pending(self, session: Session, now: datetime) -> Reply: ...

    def shown(self, session: Session, now: datetime) -> Reply: ...

    def topic_of(self, session: Session | None) -> str: ...

    def topic_label(self, session: Session) -> str: ...

    def facts_of(self, session: Session) -> tuple[tuple[str, str], ...]: ...


@dataclass(frozen=True)
class TurnOutcome:
    reply: Reply | None  # None: nothing to send (a redelivered event)
    duplicate: bool
    version: int = 0  # the session version after this turn (0: no session is kept)
    aside: bool = False  # answered beside the conversation (reminders): it goes on as it was

    @property
    def ended(self) -> bool:
        """The turn closed the conversation (終了 / やめる, unfollow): nothing is kept."""
        return not self.duplicate and not self.aside and self.version == 0


class TurnConflict(RuntimeError):
    """Every attempt lost the compare-and-swap: the conversation is too busy right now."""


def _default_understand() -> Understand:
    # Imported here so the store and the runner can be used (and tested) without the NLU
    # data being loaded at import time.
    from core.nlu import understand

    return understand


def _erases(intent: Intent) -> bool:
    """「データを削除」 or a LINE unfollow: everything kept about the customer goes."""
    if intent.kind is IntentKind.FORGET:
        return True
    return intent.kind is IntentKind.COMMAND and intent.value == Command.ERASE


def _conversation_ref(inbound: Inbound) -> str:
    # Logs correlate one conversation's turns without carrying the platform user id.
    return hashlib.sha256(inbound.key.tag.encode()).hexdigest()[:12]


class TurnRunner:
    def __init__(
        self,
        store: SessionStore,
        dialogue: Dialogue,
        clock: Clock,
        *,
        max_attempts: int = 8,
        understand: Understand | None = None,
        log_text: bool = False,
        hash_key: bytes | None = None,
        handoffs: HandoffSetup | None = None,
        reminders: Reminders | None = None,
    ) -> None:
        """log_text: put what the user typed into the turn log (debugging only; it is
        personal data, so off unless the operator's settings say so).
        hash_key: IIJBOT_HASH_KEY; with it every committed turn records a TurnEvent (the
        conversation named only by its keyed hash), without it no event is recorded.
        handoffs: how a customer is handed to a person (default: no support desk, so the
        support contacts are given instead).
        reminders: 「リマインドする」 and its kin are answered by it; without it they are
        ordinary (unknown) choices."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._store = store
        self._dialogue = dialogue
        self._clock = clock
        self._max_attempts = max_attempts
        self._understand = understand if understand is not None else _default_understand()
        self._log_text = log_text
        self._hash_key = hash_key
        self._handoffs = handoffs if handoffs is not None else HandoffSetup()
        self._reminders = reminders

    # ---- what an adapter may ask without running a turn (nothing is committed) ----------

    async def expectation(self, key: ConversationKey) -> Expectation:
        """The node a conversation is at and the choices it offers there (a LINE page of
        more choices). Raises StoreUnavailable."""
        loaded = await self._store.load(key)
        return self._dialogue.expectation(loaded.session)

    async def pending(self, key: ConversationKey) -> Reply | None:
        """The question a live conversation waits on, asked again; None when there is no
        live conversation. Raises StoreUnavailable."""
        loaded = await self._store.load(key)
        if loaded.session is None:
            return None
        return self._dialogue.pending(loaded.session, self._clock.now())

    def now(self) -> datetime:
        """The runner's clock: adapters judge an event's age by the time turns use."""
        return self._clock.now()

    async def understanding(self, key: ConversationKey, text: str) -> Intent:
        """What understanding makes of `text` at the node the conversation is at now, as a
        turn would (the development inspector shows it). Nothing is committed."""
        loaded = await self._store.load(key)
        expect = self._dialogue.expectation(loaded.session)
        return self._understand(text, expect, today_jst(self._clock.now()))

    def topic_ranking(self, text: str) -> tuple[tuple[str, float], ...]:
        """The topics `text` scores best for, best first: the winner and its runners-up
        (the development inspector shows them)."""
        from core.nlu import topic_ranking

        return topic_ranking(text)

    async def stored(self, key: ConversationKey) -> str | None:
        """The conversation's session as stored (its JSON), None when there is none (the
        development inspector shows it). Raises StoreUnavailable."""
        loaded = await self._store.load(key)
        return None if loaded.session is None else loaded.session.to_json()

    def menu(self, *, anywhere: bool = False) -> Reply:
        """The menu a new conversation opens with. anywhere: its topic buttons work at
        whatever node a conversation is at (for buttons that outlive one conversation,
        like Slack's App Home)."""
        return self._dialogue.menu(self._clock.now(), anywhere=anywhere)

    # ---- a turn -------------------------------------------------------------------------

    def intent_for(self, inbound: Inbound, session: Session | None, now: datetime) -> Intent:
        kind = inbound.kind
        if kind is InboundKind.TEXT:
            expect = self._dialogue.expectation(session)
            return self._understand(inbound.text, expect, today_jst(now))
        if kind is InboundKind.CHOICE:
            return Intent(
                IntentKind.CHOICE,
                value=inbound.choice_value or "",
                node=inbound.choice_node or None,
            )
        if kind is InboundKind.DATE:
            # The picker's node travels with the date, so an older picker is told apart.
            if inbound.date is None:
                return Intent(IntentKind.BAD_DATE, node=inbound.choice_node)
            return Intent(IntentKind.DATE, date=inbound.date, node=inbound.choice_node)
        return Intent(_PASSTHROUGH[kind])

    async def run(self, inbound: Inbound) -> TurnOutcome:
        platform = inbound.key.platform
        started = time.perf_counter()
        try:
            # One load serves both the reminder aside and the turn's first attempt.
            first = await self._store.load(inbound.key, inbound.event_id or None)
            aside = None if first.duplicate else await self._aside(inbound, first.session)
            if aside is not None:
                if inbound.event_id:
                    # No commit records the event id here: remembered apart, so a
                    # redelivered tap is acknowledged, not answered a second time.
                    await self._store.remember(inbound.key, inbound.event_id)
                TURNS.labels(platform, "ok").inc()
                where = aside.reply.node or "remind"
                self._log(inbound, "ok", where, None, first.version, started, 1)
                return TurnOutcome(aside.reply, False, first.version, aside=True)
            outcome, intent, attempts = await self._attempt_all(inbound, first)
        except StoreUnavailable:
            TURNS.labels(platform, "store_error").inc()
            self._log(inbound, "store_error", None, None, 0, started, self._max_attempts)
            raise
        except TurnConflict:
            TURNS.labels(platform, "conflict_exhausted").inc()
            self._log(inbound, "conflict_exhausted", None, None, 0, started, self._max_attempts)
            raise
        label = "duplicate" if outcome.duplicate else "ok"
        TURNS.labels(platform, label).inc()
        TURN_SECONDS.labels(platform).observe(time.perf_counter() - started)
        if intent is not None:
            INTENTS.labels(intent.kind.value).inc()
        node = outcome.reply.node if outcome.reply is not None else None
        self._log(inbound, label, node, intent, outcome.version, started, attempts)
        return outcome

    async def _aside(self, inbound: Inbound, session: Session | None) -> Handled | None:
        """A reminder input, answered without a dialogue step: it commits nothing to the
        session (the conversation goes on where it was), and its event is recorded apart."""
        if self._reminders is None:
            return None
        now = self._clock.now()
        typed = inbound.kind is InboundKind.TEXT
        if typed and self._handoffs.policy.active(session, now):
            return None  # a person has the conversation: what is typed is for them

        def shown() -> Reply | None:
            # Rendered only for a typed request: the card whose 「リマインドする」 it means.
            return None if session is None else self._dialogue.shown(session, now)

        handled = await self._reminders.handle(inbound, now, shown)
        if handled is not None:
            conv = self._conv(inbound.key)
            if conv is not None:
                event = self._aside_event(inbound, conv, now, session, handled)
                await self._store.record(inbound.key, event)  # best effort: never raises
        return handled

    def _aside_event(
        self,
        inbound: Inbound,
        conv: str,
        now: datetime,
        session: Session | None,
        handled: Handled,
    ) -> TurnEvent:
        node = session.node if session is not None else ""
        return TurnEvent(
            ts_ms=to_ms(now),
            platform=platform_name(inbound.key.platform),
            conv=conv,
            node_before=node,
            node_after=node,  # the conversation stays where it was
            outcome=handled.outcome,
            topic=self._dialogue.topic_of(session),
            input=inbound.kind.value,
            # No text: the bot read it as a reminder request, so it is no unanswered turn.
        )

    async def _attempt_all(
        self, inbound: Inbound, first: Loaded
    ) -> tuple[TurnOutcome, Intent | None, int]:
        key, event_id = inbound.key, inbound.event_id or None
        for attempt in range(1, self._max_attempts + 1):
            loaded = first if attempt == 1 else await self._store.load(key, event_id)
            if loaded.duplicate:
                return TurnOutcome(None, True, loaded.version), None, attempt
            now = self._clock.now()  # once per attempt: understand and step agree on "today"
            intent = self.intent_for(inbound, loaded.session, now)
            session, reply, ticket = self._step(inbound, loaded, intent, now)
            erase = _erases(intent)
            # A silent turn (handed off) records no event: the bot did nothing to count.
            event = (
                None
                if erase or reply is None
                else self._event(inbound, intent, now, loaded.session, session, reply)
            )
            status = await self._store.commit(key, session, loaded.version, event_id, event)
            if status is CommitStatus.OK:
                if erase:
                    if self._reminders is not None:
                        await self._reminders.forget(key)
                    await self._store.erase(key, self._conv(key))
                    await self._forget_handoff(key)
                version = 0 if session is None else loaded.version + 1
                if ticket is not None and reply is not None:
                    reply = await self._open_ticket(key, ticket, reply)
                typed = inbound.kind is InboundKind.TEXT and inbound.text.strip()
                if reply is None and session is not None and typed:
                    await self._relay(key, session)
                return TurnOutcome(reply, False, version), intent, attempt
            if status is CommitStatus.DUPLICATE:
                # Another delivery of the same event committed between our load and commit.
                return TurnOutcome(None, True, loaded.version), intent, attempt
            COMMIT_CONFLICTS.labels(key.platform).inc()
            if attempt < self._max_attempts:
                await asyncio.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))
        raise TurnConflict(
            f"turn on {key.platform} lost the session compare-and-swap "
            f"{self._max_attempts} times in a row; the conversation is too busy"
        )

    def _step(
        self, inbound: Inbound, loaded: Loaded, intent: Intent, now: datetime
    ) -> tuple[Session | None, Reply | None, HandoffTicket | None]:
        """The dialogue's step, inside the handoff gate: while a person has the
        conversation the bot remembers the message and answers nothing (reply None)."""
        policy = self._handoffs.policy
        session, pre = loaded.session, ""
        passage = handoff.gate(policy, session, intent, now)
        if passage is Gate.SILENT and session is not None:
            return self._remember(inbound, session), None, None
        if passage is Gate.RESUME and session is not None:
            session = handoff.released(session)
            reply = self._dialogue.pending(session, now)
            texts = (say("handoff_resumed"), *reply.texts)
            return session, replace(reply, texts=handoff.fit(texts)), None
        if passage is Gate.EXPIRED and session is not None:
            session, pre = handoff.released(session), say("handoff_expired")
        new, reply = self._dialogue.step(session, intent, now, expired=loaded.expired)
        if pre:
            reply = replace(reply, texts=handoff.fit((pre, *reply.texts)))
        if new is None:
            return None, reply, None
        new = self._remember(inbound, new)
        if not reply.handoff:
            return new, reply, None
        new, reply, route = handoff.carry_out(policy, new, reply, inbound.key.platform, now)
        if route is not Route.LIVE:
            return new, reply, None
        ticket = HandoffTicket(
            ref=self._ticket_ref(inbound.key),
            platform=inbound.key.platform,
            topic=self._dialogue.topic_label(new),
            facts=self._dialogue.facts_of(new),
            recent=new.recent,
            reason=reply.handoff,
            at=now,
            mention=inbound.key.user if inbound.key.platform == "slack" else "",
        )
        return new, reply, ticket

    @staticmethod
    def _remember(inbound: Inbound, session: Session) -> Session:
        """What the customer typed, masked, among the last few (the handoff card shows
        them to a person, so no personal data)."""
        if inbound.kind is not InboundKind.TEXT or not inbound.text.strip():
            return session
        return session.remembering(mask(inbound.text.strip()))

    async def _open_ticket(
        self, key: ConversationKey, ticket: HandoffTicket, reply: Reply
    ) -> Reply:
        """The handoff is committed: post the card. Should the desk not take it, the bot
        comes back on and the customer gets the support contacts instead of a wait."""
        setup = self._handoffs
        thread: str | None = None
        if setup.desk is not None and setup.index is not None:
            try:
                # Remembered first: an operator may press a button the moment it shows.
                await setup.index.remember(ticket.ref, key, setup.policy.ttl)
                thread = await setup.desk.open(ticket)
                if thread is not None:
                    await setup.index.remember(ticket.ref, key, setup.policy.ttl, thread)
            except Exception:
                log.exception("handoff: the desk could not take conv=%s", ticket.ref[:12])
        if thread is not None:
            return reply
        try:
            await self.release(ticket.ref, key=key)
        except StoreUnavailable:
            log.warning("handoff: could not hand conv=%s back to the bot", ticket.ref[:12])
        contacts = say("handoff_contacts")
        return replace(reply, texts=handoff.fit((*reply.texts[:-1], contacts)))

    async def _relay(self, key: ConversationKey, session: Session) -> None:
        """A message the bot kept silent on goes to the card's thread (masked), so the
        person who has the conversation sees it. Best effort: the turn is committed."""
        desk, index = self._handoffs.desk, self._handoffs.index
        if desk is None or index is None or not session.recent:
            return
        try:
            thread = await index.thread(self._ticket_ref(key))
            if thread is not None:
                await desk.relay(thread, session.recent[-1])
        except Exception:
            log.exception("handoff: could not relay a message to the desk")

    def _ticket_ref(self, key: ConversationKey) -> str:
        return conversation_hash(key, self._hash_key or b"")

    async def _forget_handoff(self, key: ConversationKey) -> None:
        """「データを削除」: the desk's index entry holds the user id; it goes too."""
        if self._handoffs.index is not None:
            await self._handoffs.index.forget(self._ticket_ref(key))

    async def release(self, ref: str, *, key: ConversationKey | None = None) -> bool:
        """Hand a conversation back to the bot (the desk's 「ボットに戻す」): True when it
        was handed off and now is not. Raises StoreUnavailable."""
        index = self._handoffs.index
        if key is None and index is not None:
            key = await index.lookup(ref)
        if key is None:
            return False
        back = False
        for _ in range(self._max_attempts):
            loaded = await self._store.load(key)
            if loaded.session is None or not loaded.session.handoff_at:
                break
            released = handoff.released(loaded.session)
            if await self._store.commit(key, released, loaded.version) is CommitStatus.OK:
                back = True
                break
        if index is not None:
            await index.forget(ref)
        return back

    def _conv(self, key: ConversationKey) -> str | None:
        return None if self._hash_key is None else conversation_hash(key, self._hash_key)

    def _event(
        self,
        inbound: Inbound,
        intent: Intent,
        now: datetime,
        before: Session | None,
        after: Session | None,
        reply: Reply,
    ) -> TurnEvent | None:
        conv = self._conv(inbound.key)
        if conv is None:
            return None
        missed = after is not None and after.no_match > (before.no_match if before else 0)
        outcome = classify(inbound.kind, intent, reply, missed=missed)
        # Typed text the bot could not read, whatever it led to (off-topic chatter was read:
        # it is a topic the bot does not cover).
        unread = (
            inbound.kind is InboundKind.TEXT
            and intent is not None
            and intent.kind is not IntentKind.OFF_TOPIC
            and (intent.kind is IntentKind.UNKNOWN or missed)
        )
        return TurnEvent(
            ts_ms=to_ms(now),
            platform=platform_name(inbound.key.platform),
            conv=conv,
            node_before=before.node if before is not None else "",
            node_after=after.node if after is not None else "",
            outcome=outcome,
            topic=self._dialogue.topic_of(after) or self._dialogue.topic_of(before),
            input=inbound.kind.value,
            intent=intent_label(intent),
            # Masked here, in the turn, so unmasked text never leaves the process.
            text=mask(inbound.text) if outcome in TEXT_KEPT or unread else "",
            missed=unread and outcome not in TEXT_KEPT,
        )

    def _log(
        self,
        inbound: Inbound,
        outcome: str,
        node: str | None,
        intent: Intent | None,
        version: int,
        started: float,
        attempts: int,
    ) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        extra = ""
        if self._log_text and inbound.text:
            extra = f" text={inbound.text!r}"
        log.info(
            "turn outcome=%s platform=%s conv=%s inbound=%s intent=%s node=%s version=%d "
            "attempts=%d ms=%.1f%s",
            outcome,
            inbound.key.platform,
            _conversation_ref(inbound),
            inbound.kind.value,
            intent.kind.value if intent is not None else "-",
            node or "-",
            version,
            attempts,
            (time.perf_counter() - started) * 1000,
            extra,
        )
