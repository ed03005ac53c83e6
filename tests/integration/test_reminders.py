"""Reminders end to end on real Redis: the card's button, the list, cancelling, deletion,
and the worker sending each due reminder exactly once (issue 10)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from core.clock import JST, FixedClock
from core.dialogue import default_dialogue
from core.inbound import ConversationKey, Inbound, InboundKind
from core.remind.book import RedisReminderBook, Reminder
from core.remind.plan import end_of_day
from core.remind.service import Reminders
from core.remind.worker import ReminderWorker
from core.reply import Reply
from core.store import RedisSessionStore
from core.turn import TurnRunner
from tests.clocks import MovingClock

KEY = ConversationKey("line", "-", "Uremind")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=JST)


@dataclass
class Outbox:
    """A platform that records what it was asked to deliver."""

    sent: list[tuple[ConversationKey, str, Reply]] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, key: ConversationKey, delivery_id: str, reply: Reply) -> bool:
        await asyncio.sleep(0)  # let racing workers interleave
        if self.fail:
            return False
        self.sent.append((key, delivery_id, reply))
        return True


def reminders(store: RedisSessionStore) -> Reminders:
    return Reminders(RedisReminderBook(store.client))


async def to_initial_card(runner: TurnRunner, key: ConversationKey = KEY) -> Reply:
    await runner.run(Inbound(key, InboundKind.CHOICE, choice_value="topic:initial"))
    out = await runner.run(
        Inbound(key, InboundKind.DATE, date=date(2026, 11, 20), choice_node="initial")
    )
    assert out.reply is not None and out.reply.card is not None
    return out.reply


async def tap(runner: TurnRunner, value: str, key: ConversationKey = KEY) -> Reply:
    out = await runner.run(Inbound(key, InboundKind.CHOICE, choice_value=value, choice_node=""))
    assert out.reply is not None and not out.ended
    return out.reply


async def type_(runner: TurnRunner, text: str, key: ConversationKey = KEY) -> Reply:
    out = await runner.run(Inbound(key, InboundKind.TEXT, text=text))
    assert out.reply is not None
    return out.reply


async def schedule_initial(runner: TurnRunner, key: ConversationKey = KEY) -> Reply:
    card = await to_initial_card(runner, key)
    assert card.choices[0].label == "リマインドする"
    return await tap(runner, card.choices[0].value, key)


async def test_one_tap_schedules_and_confirms_in_one_line(
    store: RedisSessionStore, aredis: aioredis.Redis
) -> None:
    runner = TurnRunner(store, default_dialogue(), FixedClock(NOW), reminders=reminders(store))
    reply = await schedule_initial(runner)
    assert reply.texts == ("11月26日(木) 9:00 と 11月27日(金) 9:00 にお知らせします。",)
    # Kept until a day after the deadline (11/27 23:59), counted from the turn's now.
    ttl = await aredis.ttl("iijbot:v1:{line:-:Uremind}:reminders")
    assert ttl == int((datetime(2026, 11, 28, 23, 59, tzinfo=JST) - NOW).total_seconds())
    listed = await type_(runner, "リマインド一覧")
    assert "11月26日(木) 9:00" in listed.texts[0] and "11月27日(金) 9:00" in listed.texts[0]
    # The conversation goes on where it was: its session is untouched.
    assert (await store.load(KEY)).session is not None
    # Tapping again (a redelivered postback) keeps two reminders, not four.
    await tap(runner, "remind:initial:2026-11-27T23:59")
    assert len(await RedisReminderBook(store.client).listed(KEY)) == 2


async def test_cancel_one_then_all(store: RedisSessionStore) -> None:
    runner = TurnRunner(store, default_dialogue(), FixedClock(NOW), reminders=reminders(store))
    await schedule_initial(runner)
    listed = await type_(runner, "リマインド一覧")
    cancel_first = listed.choices[0]
    assert cancel_first.label == "解除 11/26 9:00"
    done = await tap(runner, cancel_first.value)
    assert done.texts == ("11月26日(木) 9:00のリマインドを解除しました。",)
    left = await type_(runner, "リマインド一覧")
    assert "11月26日" not in left.texts[0] and "11月27日(金) 9:00" in left.texts[0]
    gone = await type_(runner, "リマインド解除")
    assert gone.texts == ("リマインドを1件解除しました。",)
    assert (await type_(runner, "リマインド一覧")).texts == ("設定中のリマインドはありません。",)


async def test_a_past_deadline_offers_no_button_and_schedules_nothing(
    store: RedisSessionStore,
) -> None:
    late = datetime(2026, 11, 27, 12, 0, tzinfo=JST)  # the last day, after its 9:00
    runner = TurnRunner(store, default_dialogue(), FixedClock(late), reminders=reminders(store))
    card = await to_initial_card(runner)
    assert "リマインドする" not in [c.label for c in card.choices]
    # An old button pressed now: nothing left to remind at, said so.
    reply = await tap(runner, "remind:initial:2026-11-27T23:59")
    assert reply.texts[0].startswith("お知らせできる時刻がもう残っていない")
    assert await RedisReminderBook(store.client).listed(KEY) == []


@pytest.mark.parametrize("how", ["erase", "unfollow"])
async def test_delete_my_data_and_unfollow_remove_reminders(
    store: RedisSessionStore, aredis: aioredis.Redis, how: str
) -> None:
    runner = TurnRunner(store, default_dialogue(), FixedClock(NOW), reminders=reminders(store))
    await schedule_initial(runner)
    if how == "erase":
        await type_(runner, "データを削除")
    else:
        await runner.run(Inbound(KEY, InboundKind.FORGET))
    assert await RedisReminderBook(store.client).listed(KEY) == []
    # Nothing naming the customer is left, in the due index either.
    keys = [k.decode() for k in await aredis.keys("*")]
    assert not [k for k in keys if "Uremind" in k]
    assert not [m for m in await aredis.zrange("iijbot:v1:{reminders}:due", 0, -1)]


async def test_terminal_chat_keeps_reminders_and_says_once_it_cannot_send(
    store: RedisSessionStore,
) -> None:
    cli = ConversationKey("cli", "-", "me")
    runner = TurnRunner(store, default_dialogue(), FixedClock(NOW), reminders=reminders(store))
    first = await schedule_initial(runner, cli)
    assert first.texts[0] == "11月26日(木) 9:00 と 11月27日(金) 9:00 にお知らせします。"
    assert "お知らせを送れません" in first.texts[1]
    withdraw = await tap(runner, "remind:withdraw:2026-11-30T20:00", cli)
    assert withdraw.texts == ("11月30日(月) 17:00 にお知らせします。",)
    assert len(await RedisReminderBook(store.client).listed(cli)) == 3


async def seed(book: RedisReminderBook, n: int, due: datetime) -> None:
    for i in range(n):
        key = ConversationKey("line", "-", f"U{i}")
        await book.add(key, [Reminder("initial", end_of_day(due.date()), due)], due)


async def test_two_workers_send_each_reminder_exactly_once(
    store: RedisSessionStore, redis_url: str
) -> None:
    due = datetime(2026, 11, 26, 9, 0, tzinfo=JST)
    await seed(RedisReminderBook(store.client), 40, due)
    clock = MovingClock(due + timedelta(seconds=5))
    outbox = Outbox()
    # Each worker on its own connection pool, as two processes would be.
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    workers = [
        ReminderWorker(Reminders(RedisReminderBook(c)), clock, {"line": outbox}, batch=7)
        for c in clients
    ]
    for _ in range(10):
        await asyncio.gather(*(w.run_once() for w in workers))
    for c in clients:
        await c.aclose()
    ids = [d for _, d, _ in outbox.sent]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert await RedisReminderBook(store.client).claim(clock.at + timedelta(days=30)) == []


async def test_nothing_is_sent_before_its_time(store: RedisSessionStore) -> None:
    due = datetime(2026, 11, 26, 9, 0, tzinfo=JST)
    await seed(RedisReminderBook(store.client), 1, due)
    clock = MovingClock(due - timedelta(minutes=1))
    outbox = Outbox()
    worker = ReminderWorker(reminders(store), clock, {"line": outbox})
    assert await worker.run_once() == 0
    clock.at = due
    assert await worker.run_once() == 1


async def test_a_restarted_process_sends_an_overdue_reminder_with_a_note(
    store: RedisSessionStore,
) -> None:
    due = datetime(2026, 11, 26, 9, 0, tzinfo=JST)
    await seed(RedisReminderBook(store.client), 1, due)
    # The process was down from 8:00 to 15:00; a new one starts then.
    outbox = Outbox()
    fresh = ReminderWorker(
        reminders(store), MovingClock(due + timedelta(hours=6)), {"line": outbox}
    )
    assert await fresh.run_once() == 1
    ((_, _, reply),) = outbox.sent
    assert reply.texts == ("予定の時刻より遅れてのお知らせです。",)
    assert reply.card is not None and reply.card.rows[0].value == "2026年11月26日(木)"
    assert reply.choices[0].value == "topic:initial"


async def test_a_worker_that_died_mid_send_is_relieved_after_its_lease(
    store: RedisSessionStore,
) -> None:
    due = datetime(2026, 11, 26, 9, 0, tzinfo=JST)
    await seed(RedisReminderBook(store.client), 1, due)
    clock = MovingClock(due)
    dead = Outbox(fail=True)  # claims, then never sends
    assert await ReminderWorker(reminders(store), clock, {"line": dead}).run_once() == 0
    outbox = Outbox()
    other = ReminderWorker(reminders(store), clock, {"line": outbox})
    assert await other.run_once() == 0  # still leased to the first
    clock.at = due + timedelta(minutes=6)
    assert await other.run_once() == 1
    # The same delivery id as the first attempt: LINE's retry key keeps a push single.
    assert outbox.sent[0][1] == "reminder:line:-:U0:initial-202611262359-202611260900"


async def test_a_deadline_passed_since_is_not_sent(store: RedisSessionStore) -> None:
    due = datetime(2026, 11, 27, 9, 0, tzinfo=JST)
    await seed(RedisReminderBook(store.client), 1, due)
    outbox = Outbox()
    after = MovingClock(datetime(2026, 11, 28, 9, 0, tzinfo=JST))
    assert await ReminderWorker(reminders(store), after, {"line": outbox}).run_once() == 0
    assert outbox.sent == []
    assert await RedisReminderBook(store.client).listed(ConversationKey("line", "-", "U0")) == []


async def test_monthly_push_cap(store: RedisSessionStore) -> None:
    due = datetime(2026, 11, 26, 9, 0, tzinfo=JST)
    await seed(RedisReminderBook(store.client), 5, due)
    outbox = Outbox()
    book = RedisReminderBook(store.client)
    worker = ReminderWorker(Reminders(book), MovingClock(due), {"line": outbox}, monthly_cap=3)
    assert await worker.run_once() == 3
    assert len(outbox.sent) == 3 and await book.pushes("2026-11") == 3
    # The capped ones are dropped, not kept to flood the next month.
    assert await book.claim(due + timedelta(days=1)) == []


async def test_terminal_reminders_are_dropped_at_their_time(store: RedisSessionStore) -> None:
    cli = ConversationKey("cli", "-", "me")
    book = RedisReminderBook(store.client)
    due = datetime(2026, 11, 26, 9, 0, tzinfo=JST)
    await book.add(cli, [Reminder("initial", end_of_day(due.date()), due)], due)
    outbox = Outbox()
    assert await ReminderWorker(Reminders(book), MovingClock(due), {"line": outbox}).run_once() == 0
    assert outbox.sent == [] and await book.listed(cli) == []


async def test_the_reminders_topic_button_works_wherever_the_conversation_is(
    store: RedisSessionStore,
) -> None:
    # Slack sends back the node a button was rendered for: "" for a reminder's buttons.
    runner = TurnRunner(store, default_dialogue(), FixedClock(NOW), reminders=reminders(store))
    await to_initial_card(runner)
    out = await runner.run(
        Inbound(KEY, InboundKind.CHOICE, choice_value="topic:withdraw", choice_node="")
    )
    assert out.reply is not None and out.reply.node == "withdraw"


async def test_a_redelivered_reminder_tap_is_not_answered_twice(store: RedisSessionStore) -> None:
    # LINE and Slack redeliver an event they think was lost; the reminder inputs commit no
    # session, so their event id is remembered apart.
    runner = TurnRunner(store, default_dialogue(), FixedClock(NOW), reminders=reminders(store))
    await schedule_initial(runner)
    listing = Inbound(KEY, InboundKind.TEXT, text="リマインド一覧", event_id="ev-list-1")
    first = await runner.run(listing)
    assert first.reply is not None and not first.duplicate
    again = await runner.run(listing)
    assert again.duplicate and again.reply is None
    # A new event of the same text is answered as usual.
    other = await runner.run(Inbound(KEY, InboundKind.TEXT, text="リマインド一覧", event_id="ev-2"))
    assert other.reply is not None and not other.duplicate


async def test_a_late_reminder_found_in_the_quiet_hours_waits_for_eight(
    store: RedisSessionStore,
) -> None:
    # Planned for 11/26 9:00 (deadline 11/27 23:59); no worker ran until 22:30 that night.
    book = RedisReminderBook(store.client)
    due = datetime(2026, 11, 26, 9, 0, tzinfo=JST)
    deadline = end_of_day(date(2026, 11, 27))
    await book.add(ConversationKey("line", "-", "U0"), [Reminder("initial", deadline, due)], due)
    clock = MovingClock(datetime(2026, 11, 26, 22, 30, tzinfo=JST))
    outbox = Outbox()
    worker = ReminderWorker(reminders(store), clock, {"line": outbox})
    assert await worker.run_once() == 0
    clock.at = datetime(2026, 11, 27, 7, 59, tzinfo=JST)  # past the lease, still quiet
    assert await worker.run_once() == 0 and outbox.sent == []
    clock.at = datetime(2026, 11, 27, 8, 0, tzinfo=JST)
    assert await worker.run_once() == 1
    ((_, _, reply),) = outbox.sent
    assert reply.texts == ("予定の時刻より遅れてのお知らせです。",)


async def test_a_late_reminder_with_only_quiet_hours_left_is_dropped(
    store: RedisSessionStore,
) -> None:
    # Deadline 11/27 23:59, planned 9:00 that day, first worker at 21:30: sending then would
    # break the quiet hours and 8:00 comes after the deadline, so it is not sent at all.
    book = RedisReminderBook(store.client)
    await seed(book, 1, datetime(2026, 11, 27, 9, 0, tzinfo=JST))
    outbox = Outbox()
    clock = MovingClock(datetime(2026, 11, 27, 21, 30, tzinfo=JST))
    assert await ReminderWorker(reminders(store), clock, {"line": outbox}).run_once() == 0
    assert outbox.sent == []
    assert await book.listed(ConversationKey("line", "-", "U0")) == []
