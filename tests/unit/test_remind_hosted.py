"""Reminders a platform keeps and sends itself (Slack): the book and the service around the
HostedScheduler seam, on the in-memory book and on the Redis one (issue 10).

The platform here is a recording double of Slack's scheduling API; the book and the
service are ours and real."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from core.clock import JST
from core.inbound import ConversationKey, Inbound, InboundKind
from core.remind.book import MemoryReminderBook, RedisReminderBook, Reminder, ReminderBook
from core.remind.service import Reminders
from core.reply import Reply
from core.store import RedisSessionStore
from core.store.base import StoreUnavailable, reminders_key

SLACK = ConversationKey("slack", "T0TEST", "U0ALICE")
LINE = ConversationKey("line", "-", "U1111")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=JST)
DEADLINE = datetime(2026, 11, 27, 23, 59, tzinfo=JST)
FIRST = datetime(2026, 11, 26, 9, 0, tzinfo=JST)
LAST = datetime(2026, 11, 27, 9, 0, tzinfo=JST)
TAP = "remind:initial:2026-11-27T23:59"


@dataclass
class Platform:
    """Schedules what it is given unless told to refuse; records cancels."""

    refuse: set[datetime] = field(default_factory=set)
    cancels_fail: bool = False
    raises: bool = False
    held: dict[str, tuple[datetime, Reply]] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def schedule(self, key: ConversationKey, post_at: datetime, message: Reply) -> str | None:
        await asyncio.sleep(0)  # let racing turns interleave
        if self.raises:
            raise ConnectionError("boom")
        if post_at in self.refuse:
            return None
        handle = f"D1 Q{next(self._ids)}"
        self.held[handle] = (post_at, message)
        return handle

    async def cancel(self, key: ConversationKey, hosted_id: str) -> bool:
        await asyncio.sleep(0)
        self.cancelled.append(hosted_id)
        if self.cancels_fail:
            return False
        self.held.pop(hosted_id, None)
        return True


@pytest.fixture(params=["memory", "redis"])
async def book(request: pytest.FixtureRequest) -> AsyncIterator[ReminderBook]:
    if request.param == "memory":
        yield MemoryReminderBook()
        return
    store = RedisSessionStore(request.getfixturevalue("redis_url"))
    yield RedisReminderBook(store.client)
    await store.close()


def tap(key: ConversationKey = SLACK, value: str = TAP) -> Inbound:
    return Inbound(key, InboundKind.CHOICE, choice_value=value, choice_node="")


async def scheduled(book: ReminderBook, platform: Platform) -> Reminders:
    reminders = Reminders(book, hosted={"slack": platform})
    handled = await reminders.handle(tap(), NOW)
    assert handled is not None
    assert handled.reply.texts == ("11月26日(木) 9:00 と 11月27日(金) 9:00 にお知らせします。",)
    return reminders


def test_a_reminder_stored_before_platforms_kept_them_still_reads() -> None:
    old = json.dumps(
        {"kind": "initial", "deadline": DEADLINE.isoformat(), "due": FIRST.isoformat()}
    )
    assert Reminder.from_json(old) == Reminder("initial", DEADLINE, FIRST)
    kept = Reminder("initial", DEADLINE, FIRST, hosted="D1 Q9")
    assert Reminder.from_json(kept.to_json()) == kept
    # One without a platform id is written as before, so an older reader reads it too.
    assert json.loads(Reminder("initial", DEADLINE, FIRST).to_json()) == json.loads(old)


async def test_the_redis_book_reads_the_old_form(redis_url: str) -> None:
    store = RedisSessionStore(redis_url)
    try:
        old = Reminder("initial", DEADLINE, FIRST)
        raw = json.dumps({"kind": "initial", "deadline": DEADLINE.isoformat(), "due": "x"})
        await store.client.hset(reminders_key(SLACK), mapping={old.id: old.to_json(), "b": raw})
        assert await RedisReminderBook(store.client).listed(SLACK) == [old]
    finally:
        await store.close()


async def test_each_time_is_scheduled_with_the_platform_and_never_claimed(
    book: ReminderBook,
) -> None:
    platform = Platform()
    reminders = await scheduled(book, platform)
    assert sorted(at for at, _ in platform.held.values()) == [FIRST, LAST]
    # The message is the one the worker would send at that time: not marked late.
    for at, message in platform.held.values():
        assert message == reminders.message(Reminder("initial", DEADLINE, at), at)
    kept = await book.listed(SLACK)
    assert [(r.due, r.hosted) for r in kept] == [(FIRST, "D1 Q1"), (LAST, "D1 Q2")]
    assert await book.claim(LAST + timedelta(hours=1)) == []
    # Tapped again: nothing new at the platform, nothing twice in the book.
    await reminders.handle(tap(), NOW)
    assert len(platform.held) == 2 and len(await book.listed(SLACK)) == 2


async def test_a_time_the_platform_refuses_is_left_to_our_worker(book: ReminderBook) -> None:
    platform = Platform(refuse={FIRST})
    await scheduled(book, platform)
    kept = await book.listed(SLACK)
    assert [r.due for r in kept] == [FIRST, LAST]
    assert kept[0].hosted is None and kept[1].hosted is not None
    (claimed,) = await book.claim(FIRST)
    assert claimed.key == SLACK and claimed.reminder == kept[0]


async def test_a_scheduler_that_raises_loses_nothing(book: ReminderBook) -> None:
    await scheduled(book, Platform(raises=True))
    assert [(r.due, r.hosted) for r in await book.listed(SLACK)] == [(FIRST, None), (LAST, None)]
    assert len(await book.claim(LAST)) == 2


async def test_other_platforms_are_kept_for_the_worker(book: ReminderBook) -> None:
    platform = Platform()
    await Reminders(book, hosted={"slack": platform}).handle(tap(LINE), NOW)
    assert platform.held == {}
    assert len(await book.claim(LAST)) == 2


async def test_two_racing_taps_keep_one_copy_of_each(book: ReminderBook) -> None:
    platform = Platform()
    reminders = Reminders(book, hosted={"slack": platform})
    await asyncio.gather(reminders.handle(tap(), NOW), reminders.handle(tap(), NOW))
    kept = await book.listed(SLACK)
    assert len(kept) == 2
    # What the platform still holds is exactly what we keep: the loser withdrew its own.
    assert sorted(platform.held) == sorted(r.hosted or "" for r in kept)
    assert len(platform.cancelled) == 2 and not set(platform.cancelled) & set(platform.held)


@pytest.mark.parametrize("how", ["cancel_all", "forget"])
async def test_cancelling_all_or_forgetting_withdraws_every_copy(
    book: ReminderBook, how: str
) -> None:
    platform = Platform()
    reminders = await scheduled(book, platform)
    handles = sorted(platform.held)
    if how == "cancel_all":
        assert await reminders.cancel_all(SLACK, NOW) == 2
    else:
        await reminders.forget(SLACK)
    assert sorted(platform.cancelled) == handles and platform.held == {}
    assert await book.listed(SLACK) == []


async def test_cancelling_one_withdraws_that_copy(book: ReminderBook) -> None:
    platform = Platform()
    reminders = await scheduled(book, platform)
    first, last = await book.listed(SLACK)
    handled = await reminders.handle(tap(value="remind:cancel:" + first.id), NOW)
    assert handled is not None
    assert handled.reply.texts == ("11月26日(木) 9:00のリマインドを解除しました。",)
    assert platform.cancelled == [first.hosted] and list(platform.held) == [last.hosted]
    assert await book.listed(SLACK) == [last]


async def test_a_copy_the_platform_cannot_withdraw_still_goes_from_ours(
    book: ReminderBook,
) -> None:
    platform = Platform(cancels_fail=True)
    reminders = await scheduled(book, platform)
    assert await reminders.cancel_all(SLACK, NOW) == 2
    assert len(platform.cancelled) == 2
    assert await book.listed(SLACK) == []


async def test_what_the_platform_has_sent_is_no_longer_listed_or_cancelled(
    book: ReminderBook,
) -> None:
    platform = Platform()
    reminders = await scheduled(book, platform)
    listing = await reminders.listing(SLACK, FIRST)
    assert "11月26日" not in listing.texts[0] and "11月27日(金) 9:00" in listing.texts[0]
    assert [r.due for r in await book.listed(SLACK)] == [LAST]
    assert await reminders.cancel_all(SLACK, FIRST) == 1
    assert len(platform.cancelled) == 1  # only the one still to come was withdrawn


class _FailingBook(MemoryReminderBook):
    async def add(
        self, key: ConversationKey, reminders: list[Reminder], now: datetime
    ) -> list[Reminder]:
        raise StoreUnavailable("redis down")


async def test_copies_the_store_could_not_keep_are_withdrawn() -> None:
    platform = Platform()
    with pytest.raises(StoreUnavailable):
        await Reminders(_FailingBook(), hosted={"slack": platform}).handle(tap(), NOW)
    assert len(platform.cancelled) == 2 and platform.held == {}
