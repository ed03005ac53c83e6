"""The customer's side of reminders: 「リマインドする」, 「リマインド一覧」, cancelling, and
the message a due reminder becomes. TurnRunner hands it the inbound before the dialogue
step; it answers the reminder inputs itself (they change no conversation state, and
repeating one is harmless: scheduling the same deadline again stores the same ids).
Typed requests (リマインドして, 通知いらない) are read by core.remind.words; "remind me"
schedules what the card on screen offers, as its button would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.clock import format_date_ja, format_day_ja, to_jst
from core.events import Outcome
from core.inbound import ConversationKey, Inbound, InboundKind
from core.remind.book import Reminder, ReminderBook
from core.remind.calendar import CalendarLinks, ics
from core.remind.plan import (
    END_OF_DAY,
    Schedule,
    due_times,
    load_schedule,
    parse_token,
)
from core.remind.words import Ask, read
from core.reply import NAV_MENU, TOPIC_PREFIX, Card, Choice, FactRow, Link, Reply
from core.texts import say

PREFIX = "remind:"
LIST = PREFIX + "list"
CANCEL_ALL = PREFIX + "cancel_all"
CANCEL = PREFIX + "cancel:"
# Typed requests: "remind me" (of what the card on screen offers), and "about reminders"
# without saying which (asked back with buttons).
HERE = PREFIX + "here"
WHICH = PREFIX + "which"
_ASKED = {Ask.SCHEDULE: HERE, Ask.LIST: LIST, Ask.CANCEL: CANCEL_ALL, Ask.UNSURE: WHICH}
# Reminder replies are valid at whatever node a conversation is at: no node is named.
NODE = ""
MAX_LISTED = 10
# Platforms that can deliver a reminder; the others (the terminal chat) keep them only.
DELIVERING = frozenset({"line", "slack"})

_WHAT: dict[str, Callable[[], str]] = {
    "initial": lambda: say("remind_what_initial"),
    "withdraw": lambda: say("remind_what_withdraw"),
    "this_month": lambda: say("remind_what_this_month"),
    "min_period": lambda: say("remind_what_min_period"),
    "voice": lambda: say("remind_what_voice"),
    "mnp": lambda: say("remind_what_mnp"),
}
_DO: dict[str, Callable[[], str]] = {
    "initial": lambda: say("remind_do_initial"),
    "withdraw": lambda: say("remind_do_withdraw"),
    "this_month": lambda: say("remind_do_this_month"),
    "min_period": lambda: say("remind_do_min_period"),
    "voice": lambda: say("remind_do_voice"),
    "mnp": lambda: say("remind_do_mnp"),
}


def format_due(at: datetime) -> str:
    """11月26日(木) 9:00: short, as the confirmation line reads."""
    local = to_jst(at)
    return f"{format_day_ja(local.date())} {local.hour}:{local.minute:02d}"


def format_deadline(at: datetime) -> str:
    local = to_jst(at)
    day = format_date_ja(local.date())
    return day if local.time() == END_OF_DAY else f"{day} {local.hour}:{local.minute:02d}"


def command_of(inbound: Inbound) -> str | None:
    """The reminder input an inbound is, as a choice value; None for anything else."""
    if inbound.kind is InboundKind.CHOICE and (inbound.choice_value or "").startswith(PREFIX):
        return inbound.choice_value
    if inbound.kind is InboundKind.TEXT:
        ask = read(inbound.text)
        return None if ask is None else _ASKED[ask]
    return None


def _nothing_shown() -> Reply | None:
    return None


@dataclass(frozen=True)
class Handled:
    """A reminder input answered, and what it came to (the turn's event outcome)."""

    reply: Reply
    outcome: Outcome


def remind_choice(remind_token: str, now: datetime) -> Choice | None:
    """「リマインドする」 for a card whose deadline still leaves a time to remind at."""
    parsed = parse_token(remind_token) if remind_token else None
    if parsed is None or not due_times(parsed[0], parsed[1], now):
        return None
    return Choice(say("remind_button"), PREFIX + remind_token)


class Reminders:
    def __init__(
        self,
        book: ReminderBook,
        schedule: Schedule | None = None,
        calendar: CalendarLinks | None = None,
    ) -> None:
        """calendar: with it, the confirmation carries a 「カレンダーに追加」 link."""
        self._book = book
        self._schedule = schedule or load_schedule()
        self._calendar = calendar

    @property
    def book(self) -> ReminderBook:
        return self._book

    async def handle(
        self,
        inbound: Inbound,
        now: datetime,
        shown: Callable[[], Reply | None] = _nothing_shown,
    ) -> Handled | None:
        """shown: the reply the conversation shows now (its card), asked only for a typed
        request; None when there is no conversation."""
        value = command_of(inbound)
        if value is None:
            return None
        key = inbound.key
        if value == LIST:
            return Handled(await self.listing(key), Outcome.REMIND_LISTED)
        if value == CANCEL_ALL:
            count = await self._book.remove_all(key)
            reply = _reply(say("remind_cancelled_all", count=str(count)))
            return Handled(reply, Outcome.REMIND_CANCELLED)
        if value.startswith(CANCEL):
            reply = await self._cancel_one(key, value[len(CANCEL) :])
            return Handled(reply, Outcome.REMIND_CANCELLED)
        if value in (HERE, WHICH):
            return await self._typed(key, value, now, _offered(shown()))
        return await self._remind_of(key, value[len(PREFIX) :], now)

    async def _remind_of(self, key: ConversationKey, remind_token: str, now: datetime) -> Handled:
        parsed = parse_token(remind_token)
        left = parsed is not None and bool(due_times(parsed[0], parsed[1], now, self._schedule))
        reply = await self._schedule_for(key, remind_token, now)
        return Handled(reply, Outcome.REMIND_SCHEDULED if left else Outcome.REMIND_UNCLEAR)

    async def _typed(
        self, key: ConversationKey, value: str, now: datetime, offered: Choice | None
    ) -> Handled:
        """A typed request: "remind me" does what the card's button does; otherwise, or
        with no card offering a reminder, the customer is asked with buttons, never
        guessed for."""
        if value == HERE and offered is not None:
            return await self._remind_of(key, offered.value[len(PREFIX) :], now)
        had = bool(await self._book.listed(key))
        listed = [_list_button(), Choice(say("remind_stop_button"), CANCEL_ALL)] if had else []
        if value == HERE or (offered is None and not had):
            # Nothing on screen to remind of: say so, and offer what there is.
            choices = (*listed[:1], _menu_button())
            reply = Reply(node=NODE, texts=(say("remind_nothing_here"),), choices=choices)
            return Handled(reply, Outcome.REMIND_UNCLEAR)
        choices = (*([offered] if offered is not None else []), *listed, _menu_button())
        reply = Reply(node=NODE, texts=(say("remind_which"),), choices=choices)
        return Handled(reply, Outcome.REMIND_UNCLEAR)

    async def forget(self, key: ConversationKey) -> None:
        """Unfollow or 「データを削除」: every reminder of the conversation goes."""
        await self._book.remove_all(key)

    async def listing(self, key: ConversationKey) -> Reply:
        items = (await self._book.listed(key))[:MAX_LISTED]
        if not items:
            return _reply(say("remind_list_empty"))
        lines = [say("remind_list_head")]
        lines += [
            say("remind_list_item", what=_WHAT[r.kind](), due=format_due(r.due)) for r in items
        ]
        choices = [
            Choice(say("remind_cancel_button", due=_short(r.due)), CANCEL + r.id) for r in items
        ]
        choices += [Choice(say("remind_cancel_all_button"), CANCEL_ALL), _menu_button()]
        return Reply(node=NODE, texts=("\n".join(lines),), choices=tuple(choices))

    async def _cancel_one(self, key: ConversationKey, reminder_id: str) -> Reply:
        found = [r for r in await self._book.listed(key) if r.id == reminder_id]
        await self._book.remove(key, [reminder_id])
        if not found:
            return await self.listing(key)  # already gone: show what is left
        return _reply(say("remind_cancelled", due=format_due(found[0].due)))

    async def _schedule_for(self, key: ConversationKey, remind_token: str, now: datetime) -> Reply:
        parsed = parse_token(remind_token)
        if parsed is None or parsed[0] not in _WHAT:
            return _reply(say("remind_none_left"))
        kind, deadline = parsed
        times = due_times(kind, deadline, now, self._schedule)
        if not times:
            return _reply(say("remind_none_left"))
        had = await self._book.listed(key)
        await self._book.add(key, [Reminder(kind, deadline, at) for at in times], now)
        texts = [say("remind_confirm", times=say("remind_and").join(format_due(t) for t in times))]
        if key.platform not in DELIVERING and not had:
            texts.append(say("remind_cannot_deliver"))  # once: with the first reminder
        if self._calendar is not None:
            texts.append(say("remind_calendar", url=self._calendar.url(kind, deadline)))
        return Reply(node=NODE, texts=tuple(texts), choices=(_list_button(), _menu_button()))

    def message(self, reminder: Reminder, now: datetime) -> Reply:
        """What a due reminder says: what is due, by when, what to do, and the topic."""
        plan = self._schedule.kinds[reminder.kind]
        late = now - reminder.due >= self._schedule.late_after
        card = Card(
            title=say("remind_title", what=_WHAT[reminder.kind]()),
            rows=(FactRow(say("remind_row_deadline"), format_deadline(reminder.deadline)),),
            notes=(_DO[reminder.kind](),),
            link=Link(say("remind_link_label"), plan.url),
        )
        return Reply(
            node=NODE,
            texts=(say("remind_late"),) if late else (),
            card=card,
            choices=(Choice(say("remind_topic_button"), TOPIC_PREFIX + plan.topic), _list_button()),
        )

    def calendar_file(self, signed: str, now: datetime) -> bytes | None:
        """The .ics a calendar link serves; None for a forged, expired or unknown one."""
        if self._calendar is None:
            return None
        found = self._calendar.read(signed, now)
        if found is None or found[0] not in _WHAT:
            return None
        kind, deadline = found
        return ics(kind, deadline, now, _WHAT[kind](), self._schedule.kinds[kind].url)


def _offered(shown: Reply | None) -> Choice | None:
    """The 「リマインドする」 a reply offers (a card with a deadline still ahead)."""
    for choice in shown.choices if shown is not None else ():
        value = choice.value
        if value.startswith(PREFIX) and parse_token(value[len(PREFIX) :]) is not None:
            return choice
    return None


def _short(at: datetime) -> str:
    local = to_jst(at)
    return f"{local.month}/{local.day} {local.hour}:{local.minute:02d}"


def _list_button() -> Choice:
    return Choice(say("remind_list_button"), LIST)


def _menu_button() -> Choice:
    return Choice(say("menu_button"), NAV_MENU)


def _reply(text: str) -> Reply:
    return Reply(node=NODE, texts=(text,), choices=(_menu_button(),))
