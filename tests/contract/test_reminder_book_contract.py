"""One behaviour, two books: every case runs against the in-memory ReminderBook (the local
chat's) and the Redis one (what `serve` and `iijmio-bot worker` share), so the seam the
worker relies on (claim once, lease, done, the push counter) means the same on both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import redis.asyncio as aioredis

from core.clock import JST
from core.inbound import ConversationKey
from core.remind.book import (
    DEFAULT_LEASE,
    KEEP_AFTER_DEADLINE,
    PUSH_COUNTER_TTL,
    MemoryReminderBook,
    RedisReminderBook,
    Reminder,
    ReminderBook,
)
from core.store.base import reminders_key

KEY = ConversationKey("line", "-", "U123")
OTHER = ConversationKey("slack", "T1", "U123")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=JST)
LAST_DAY = datetime(2026, 11, 27, 23, 59, tzinfo=JST)
DAY_BEFORE = Reminder("initial", LAST_DAY, datetime(2026, 11, 26, 9, 0, tzinfo=JST))
ON_THE_DAY = Reminder("initial", LAST_DAY, datetime(2026, 11, 27, 9, 0, tzinfo=JST))
WITHDRAW = Reminder(
    "withdraw",
    datetime(2026, 11, 26, 20, 0, tzinfo=JST),
    datetime(2026, 11, 26, 17, 0, tzinfo=JST),
)


@dataclass
class Backend:
    name: str
    # A book as one more process would open it: its own connection on Redis, the same
    # memory in-process (the memory book serves one process only).
    open: Callable[[], ReminderBook]
    client: aioredis.Redis | None  # to look at what Redis holds; None in memory


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        shared = MemoryReminderBook()
        yield Backend("memory", lambda: shared, None)
        return
    url: str = request.getfixturevalue("redis_url")
    clients: list[aioredis.Redis] = []

    def open_book() -> ReminderBook:
        clients.append(aioredis.Redis.from_url(url))
        return RedisReminderBook(clients[-1])

    inspector = aioredis.Redis.from_url(url)
    yield Backend("redis", open_book, inspector)
    for c in [*clients, inspector]:
        await c.aclose()


async def test_listed_earliest_first_and_per_conversation(backend: Backend) -> None:
    book = backend.open()
    await book.add(KEY, [ON_THE_DAY, WITHDRAW, DAY_BEFORE], NOW)
    await book.add(OTHER, [ON_THE_DAY], NOW)
    assert await book.listed(KEY) == [DAY_BEFORE, WITHDRAW, ON_THE_DAY]
    assert await book.listed(OTHER) == [ON_THE_DAY]
    assert await book.listed(ConversationKey("line", "-", "Unobody")) == []


async def test_adding_the_same_reminder_again_keeps_one(backend: Backend) -> None:
    # A redelivered postback taps 「リマインドする」 twice.
    book = backend.open()
    await book.add(KEY, [DAY_BEFORE, ON_THE_DAY], NOW)
    await book.add(KEY, [DAY_BEFORE, ON_THE_DAY], NOW)
    assert await book.listed(KEY) == [DAY_BEFORE, ON_THE_DAY]
    claimed = await book.claim(LAST_DAY - timedelta(minutes=1))
    assert [c.reminder for c in claimed] == [DAY_BEFORE, ON_THE_DAY]


async def test_remove_counts_what_it_removed_and_nothing_else(backend: Backend) -> None:
    book = backend.open()
    await book.add(KEY, [DAY_BEFORE, ON_THE_DAY], NOW)
    await book.add(OTHER, [DAY_BEFORE], NOW)
    assert await book.remove(KEY, [DAY_BEFORE.id, "no-such-id"]) == 1
    assert await book.remove(KEY, [DAY_BEFORE.id]) == 0
    assert await book.remove(KEY, []) == 0
    assert await book.listed(KEY) == [ON_THE_DAY]
    assert await book.listed(OTHER) == [DAY_BEFORE]
    # A removed reminder is never handed out, the others still are.
    claimed = await book.claim(LAST_DAY - timedelta(minutes=1))
    assert {(c.key, c.reminder) for c in claimed} == {(KEY, ON_THE_DAY), (OTHER, DAY_BEFORE)}


async def test_remove_all_empties_the_conversation_only(backend: Backend) -> None:
    book = backend.open()
    await book.add(KEY, [DAY_BEFORE, ON_THE_DAY, WITHDRAW], NOW)
    await book.add(OTHER, [WITHDRAW], NOW)
    assert await book.remove_all(KEY) == 3
    assert await book.remove_all(KEY) == 0
    assert await book.listed(KEY) == []
    claimed = await book.claim(LAST_DAY)
    assert [(c.key, c.reminder) for c in claimed] == [(OTHER, WITHDRAW)]
    if backend.client is not None:  # nothing naming the customer is left behind
        assert await backend.client.exists(reminders_key(KEY)) == 0
        members = await backend.client.zrange("iijbot:v1:{reminders}:due", 0, -1)
        assert members == [b"slack\nT1\nU123\n" + WITHDRAW.id.encode()]


async def test_nothing_is_claimed_before_its_time(backend: Backend) -> None:
    book = backend.open()
    await book.add(KEY, [DAY_BEFORE], NOW)
    assert await book.claim(DAY_BEFORE.due - timedelta(seconds=1)) == []
    [claimed] = await book.claim(DAY_BEFORE.due)
    assert (claimed.key, claimed.reminder) == (KEY, DAY_BEFORE)


async def test_a_claim_hands_each_reminder_to_one_claimer_until_its_lease_ends(
    backend: Backend,
) -> None:
    first, second = backend.open(), backend.open()
    await first.add(KEY, [DAY_BEFORE], NOW)
    at = DAY_BEFORE.due
    assert len(await first.claim(at)) == 1
    assert await second.claim(at) == []
    assert await second.claim(at + DEFAULT_LEASE - timedelta(seconds=1)) == []
    # The first claimer never said done (it died mid-send): the reminder comes due again.
    [again] = await second.claim(at + DEFAULT_LEASE)
    assert again.reminder == DAY_BEFORE
    assert await first.claim(at + DEFAULT_LEASE) == []


async def test_racing_claimers_get_each_reminder_exactly_once(backend: Backend) -> None:
    books = [backend.open() for _ in range(4)]
    keys = [ConversationKey("line", "-", f"U{i}") for i in range(30)]
    for key in keys:
        await books[0].add(key, [DAY_BEFORE, ON_THE_DAY], NOW)
    at = LAST_DAY - timedelta(minutes=1)
    rounds = await asyncio.gather(*(b.claim(at, limit=7) for b in books for _ in range(5)))
    got = [(c.key, c.reminder.id) for claimed in rounds for c in claimed]
    assert len(got) == len(set(got)) == 2 * len(keys)


async def test_claim_honours_its_limit_earliest_first(backend: Backend) -> None:
    book = backend.open()
    await book.add(KEY, [ON_THE_DAY, DAY_BEFORE, WITHDRAW], NOW)
    at = LAST_DAY - timedelta(minutes=1)
    assert [c.reminder for c in await book.claim(at, limit=2)] == [DAY_BEFORE, WITHDRAW]
    assert [c.reminder for c in await book.claim(at, limit=2)] == [ON_THE_DAY]


async def test_done_forgets_the_reminder_for_good(backend: Backend) -> None:
    book = backend.open()
    await book.add(KEY, [DAY_BEFORE, ON_THE_DAY], NOW)
    [claimed, _] = await book.claim(ON_THE_DAY.due)
    await book.done(claimed.key, claimed.reminder.id)
    assert await book.listed(KEY) == [ON_THE_DAY]
    later = ON_THE_DAY.due + DEFAULT_LEASE * 3
    assert [c.reminder for c in await book.claim(later)] == [ON_THE_DAY]


async def test_a_postponed_reminder_comes_due_at_its_new_time_only(backend: Backend) -> None:
    book = backend.open()
    await book.add(KEY, [DAY_BEFORE], NOW)
    [claimed] = await book.claim(DAY_BEFORE.due)
    later = DAY_BEFORE.due + timedelta(hours=3)
    await book.postpone(KEY, claimed.reminder.id, later)
    assert await book.claim(later - timedelta(seconds=1)) == []
    assert [c.reminder for c in await book.claim(later)] == [DAY_BEFORE]
    # Postponing one cancelled meanwhile does not bring it back.
    await book.remove(KEY, [DAY_BEFORE.id])
    await book.postpone(KEY, DAY_BEFORE.id, later)
    assert await book.claim(later + DEFAULT_LEASE * 2) == []


async def test_pushes_are_counted_per_month(backend: Backend) -> None:
    book, other = backend.open(), backend.open()
    assert await book.pushes("2026-11") == 0
    await book.count_push("2026-11")
    await other.count_push("2026-11")
    await book.count_push("2026-12")
    assert await other.pushes("2026-11") == 2
    assert await book.pushes("2026-12") == 1
    assert await book.pushes("2027-01") == 0


async def test_redis_keys_expire_a_day_after_the_last_deadline(aredis: aioredis.Redis) -> None:
    # Redis runs with noeviction: every key the book writes must go by itself. (Memory
    # keeps nothing past the process, so this case is Redis's alone.)
    book = RedisReminderBook(aredis)
    await book.add(KEY, [DAY_BEFORE], NOW)
    await book.add(KEY, [ON_THE_DAY, WITHDRAW], NOW)
    ttl = await aredis.ttl(reminders_key(KEY))
    assert ttl == int((LAST_DAY + KEEP_AFTER_DEADLINE - NOW).total_seconds())
    await book.count_push("2026-11")
    counter_ttl = await aredis.ttl("iijbot:v1:{reminders}:pushes:2026-11")
    assert 0 < counter_ttl <= PUSH_COUNTER_TTL
