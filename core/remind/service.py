"""The customer's side of reminders: 「リマインドする」, 「リマインド一覧」, cancelling, and
the message a due reminder becomes. TurnRunner hands it the inbound before the dialogue
step; it answers the reminder inputs itself (they change no conversation state, and
repeating one is harmless: scheduling the same deadline again schedules nothing twice).
Typed requests (リマインドして, 通知いらない) are read by core.remind.words; "remind me"
schedules what the card on screen offers, as its button would.

On a platform that keeps and sends messages itself (Slack), each due time is handed to it
in the turn (core/remind/hosted.py) and its handle kept beside the reminder; cancelling
withdraws it there. What the platform refuses waits in our due index for the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from core.clock import format_date_ja, format_day_ja, to_jst
from core.events import Outcome
from core.inbound import ConversationKey, Inbound, InboundKind
from core.metrics import REMINDERS
from core.remind.book import Reminder, ReminderBook
from core.remind.calendar import CalendarLinks, ics
from core.remind.hosted import HostedId, HostedScheduler
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

log = logging.getLogger("iijbot.remind")

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
        hosted: Mapping[str, HostedScheduler] | None = None,
    ) -> None:
        """calendar: with it, the confirmation carries a 「カレンダーに追加」 link.
        hosted: per platform, the scheduler that has the platform send a reminder itself;
        other platforms' reminders wait in our due index for the worker."""
        self._book = book
        self._schedule = schedule or load_schedule()
        self._calendar = calendar
        self._hosted = dict(hosted or {})

    @property
    def book(self) -> ReminderBook:
        return self._book

    @property
    def schedule(self) -> Schedule:
        return self._schedule

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
            return Handled(await self.listing(key, now), Outcome.REMIND_LISTED)
        if value == CANCEL_ALL:
            count = await self.cancel_all(key, now)
            reply = _reply(say("remind_cancelled_all", count=str(count)))
            return Handled(reply, Outcome.REMIND_CANCELLED)
        if value.startswith(CANCEL):
            reply = await self._cancel_one(key, value[len(CANCEL) :], now)
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
        """Unfollow or 「データを削除」: every reminder of the conversation goes, and the
        copies a platform keeps are withdrawn (one it sent already counts as gone)."""
        await self._withdraw(key, await self._book.listed(key))
        await self._book.remove_all(key)

    async def cancel_all(self, key: ConversationKey, now: datetime) -> int:
        """「リマインド解除」: the number of reminders that were still to come."""
        await self._withdraw(key, await self._current(key, now))
        return await self._book.remove_all(key)

    async def listing(self, key: ConversationKey, now: datetime | None = None) -> Reply:
        """now: drop what the platform has sent by then (without it, nothing is dropped)."""
        items = (await self._current(key, now))[:MAX_LISTED]
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

    async def _cancel_one(self, key: ConversationKey, reminder_id: str, now: datetime) -> Reply:
        found = [r for r in await self._current(key, now) if r.id == reminder_id]
        await self._withdraw(key, found)
        await self._book.remove(key, [reminder_id])
        if not found:
            return await self.listing(key, now)  # already gone: show what is left
        return _reply(say("remind_cancelled", due=format_due(found[0].due)))

    async def _current(self, key: ConversationKey, now: datetime | None) -> list[Reminder]:
        """The conversation's reminders still to come. One the platform keeps has been
        sent by it once its time is past (our worker would have removed its own): it is
        no longer the customer's to list or cancel, so it goes from the book here."""
        items = await self._book.listed(key)
        if now is None:
            return items
        sent = [r.id for r in items if r.hosted is not None and r.due <= now]
        if sent:
            await self._book.remove(key, sent)
        return [r for r in items if r.id not in sent]

    async def _schedule_for(self, key: ConversationKey, remind_token: str, now: datetime) -> Reply:
        parsed = parse_token(remind_token)
        if parsed is None or parsed[0] not in _WHAT:
            return _reply(say("remind_none_left"))
        kind, deadline = parsed
        times = due_times(kind, deadline, now, self._schedule)
        if not times:
            return _reply(say("remind_none_left"))
        had = await self._book.listed(key)
        known = {r.id for r in had}
        fresh = [r for r in (Reminder(kind, deadline, at) for at in times) if r.id not in known]
        fresh = await self._host(key, fresh)
        try:
            kept = {r.id for r in await self._book.add(key, fresh, now)}
        except BaseException:
            # The platform took them but we could not write them down: take them back, or
            # the customer would get reminders they can neither list nor cancel.
            await self._withdraw(key, fresh)
            raise
        # Another delivery of the same tap stored these ids first: its copies stand, ours go.
        await self._withdraw(key, [r for r in fresh if r.id not in kept])
        texts = [say("remind_confirm", times=say("remind_and").join(format_due(t) for t in times))]
        if key.platform not in DELIVERING and not had:
            # Once, with the first reminder; where a calendar file is offered it is the
            # way this customer gets reminded, so the sentence points to it.
            calendar = self._calendar is not None
            texts.append(
                say("remind_cannot_deliver_calendar" if calendar else "remind_cannot_deliver")
            )
        if self._calendar is not None:
            texts.append(say("remind_calendar", url=self._calendar.url(kind, deadline)))
        return Reply(node=NODE, texts=tuple(texts), choices=(_list_button(), _menu_button()))

    async def _host(self, key: ConversationKey, reminders: list[Reminder]) -> list[Reminder]:
        """Each reminder scheduled with the platform, if it keeps messages itself; the
        ones it refused stay without a handle, so the book puts them in our due index."""
        scheduler = self._hosted.get(key.platform)
        if scheduler is None or not reminders:
            return reminders
        handles = await asyncio.gather(
            *(_schedule(scheduler, key, r, self.message(r, r.due)) for r in reminders)
        )
        out: list[Reminder] = []
        for r, handle in zip(reminders, handles, strict=True):
            if handle is None:
                REMINDERS.labels(key.platform, "fallback").inc()
                log.warning(
                    "reminder left to our worker: the platform did not schedule it",
                    extra={"platform": key.platform, "kind": r.kind},
                )
                out.append(r)
            else:
                REMINDERS.labels(key.platform, "scheduled").inc()
                out.append(replace(r, hosted=handle))
        return out

    async def _withdraw(self, key: ConversationKey, reminders: list[Reminder]) -> None:
        """The platform's copies of these reminders, deleted there.

        A copy the platform could not delete (down, refusing) is logged and counted, and
        the caller still removes the reminder from our book rather than keep it to retry:
        the customer asked for it to go (after 「データを削除」 we may keep nothing of
        theirs), and at worst one reminder they no longer wanted reaches their DM, while a
        kept record would be listed as set when it was cancelled."""
        handles = [r.hosted for r in reminders if r.hosted is not None]
        if not handles:
            return
        scheduler = self._hosted.get(key.platform)
        if scheduler is None:
            # The platform is no longer configured here: nobody to ask; the record goes.
            REMINDERS.labels(key.platform, "cancel_failed").inc(len(handles))
            log.warning(
                "scheduled reminders not withdrawn: no scheduler for the platform",
                extra={"platform": key.platform, "count": len(handles)},
            )
            return
        done = await asyncio.gather(*(_cancel(scheduler, key, h) for h in handles))
        for ok in done:
            REMINDERS.labels(key.platform, "cancelled" if ok else "cancel_failed").inc()
        if not all(done):
            log.warning(
                "scheduled reminders not withdrawn at the platform; removed from ours anyway",
                extra={"platform": key.platform, "count": done.count(False)},
            )

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


async def _schedule(
    scheduler: HostedScheduler, key: ConversationKey, reminder: Reminder, message: Reply
) -> HostedId | None:
    try:
        return await scheduler.schedule(key, reminder.due, message)
    except Exception as exc:  # a scheduler must not raise; if one does, the worker sends it
        log.warning("reminder scheduler failed: %s", type(exc).__name__)
        return None


async def _cancel(scheduler: HostedScheduler, key: ConversationKey, handle: HostedId) -> bool:
    try:
        return await scheduler.cancel(key, handle)
    except Exception as exc:
        log.warning("reminder scheduler failed to cancel: %s", type(exc).__name__)
        return False


def _short(at: datetime) -> str:
    local = to_jst(at)
    return f"{local.month}/{local.day} {local.hour}:{local.minute:02d}"


def _list_button() -> Choice:
    return Choice(say("remind_list_button"), LIST)


def _menu_button() -> Choice:
    return Choice(say("menu_button"), NAV_MENU)


def _reply(text: str) -> Reply:
    return Reply(node=NODE, texts=(text,), choices=(_menu_button(),))
