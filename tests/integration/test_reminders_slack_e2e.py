"""Reminders end to end on Slack (issue 10): the composed server (create_app) over signed
HTTP, real Redis, and the stub Slack API, which keeps scheduled messages as Slack does.

Slack keeps and sends each reminder (chat.scheduleMessage in the turn that sets it,
chat.deleteScheduledMessage when it is cancelled); what Slack refuses falls back to our
worker, which posts it with chat.postMessage at its time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY
from slack_sdk.web.async_client import AsyncWebClient

from bots.server import create_app
from bots.settings import Settings, SlackSettings
from core.clock import JST
from core.inbound import ConversationKey
from core.remind.book import RedisReminderBook, Reminder
from core.store import RedisSessionStore
from tests.clocks import MovingClock
from tests.integration.slack_stub import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM_ID,
    AsgiServer,
    Call,
    SlackClient,
    SlackStub,
    all_text,
    button,
    buttons,
    datepicker,
)

pytestmark = pytest.mark.integration

USER = "U0ALICE"
DM = "DU0ALICE"  # what the stub's conversations.open answers for USER
KEY = ConversationKey("slack", TEAM_ID, USER)
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=JST)
FIRST = datetime(2026, 11, 26, 9, 0, tzinfo=JST)  # 初期契約解除 (last day 11/27): the day before
LAST = datetime(2026, 11, 27, 9, 0, tzinfo=JST)  # and the last day
CONFIRM = "11月26日(木) 9:00 と 11月27日(金) 9:00 にお知らせします。"
DUE_INDEX = "iijbot:v1:{reminders}:due"


def counted(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "iijbot_reminders_total", {"platform": "slack", "outcome": outcome}
    )
    return value or 0.0


@dataclass
class Rig:
    stub: SlackStub
    slack: SlackClient
    clock: MovingClock
    book: RedisReminderBook

    async def answer(self, send: Awaitable[httpx.Response], method: str = "response_url") -> Call:
        """Send something, and the bot's next answer by `method` once it is there."""
        seen = len(self.stub.of(method))
        resp = await send
        assert resp.status_code == 200
        await self.stub.wait_for(lambda: len(self.stub.of(method)) > seen)
        return self.stub.of(method)[-1]

    async def click(self, message: Call, label: str) -> Call:
        element = button(message.body["blocks"], label)
        return await self.answer(self.slack.action(self.slack.action_payload(element)))

    async def pick(self, message: Call, day: str) -> Call:
        picker = datepicker(message.body["blocks"])
        payload = self.slack.action_payload(picker, selected_date=day)
        return await self.answer(self.slack.action(payload))

    async def type_(self, text: str) -> Call:
        """A DM to the app: answered by chat.postMessage."""
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": DM,
            "user": USER,
            "text": text,
            "ts": f"17000000{len(self.stub.calls):02d}.000100",
        }
        return await self.answer(self.slack.event(event), "chat.postMessage")

    async def menu(self) -> Call:
        return await self.answer(self.slack.command(""))

    async def schedule_initial(self) -> Call:
        """初期契約解除 from the menu, its card, 「リマインドする」: the card."""
        asked = await self.click(await self.menu(), "初期契約解除")
        card = await self.pick(asked, "2026-11-20")
        confirm = await self.click(card, "リマインドする")
        assert CONFIRM in all_text(confirm.body)
        return card

    def scheduling(self) -> list[Call]:
        return self.stub.of("chat.scheduleMessage")


@contextlib.asynccontextmanager
async def rig(
    redis_url: str, *, worker: bool = True, slack_ahead: timedelta = timedelta(0)
) -> AsyncIterator[Rig]:
    """slack_ahead: how far Slack's clock runs ahead of ours."""
    clock = MovingClock(NOW)
    stub = SlackStub(token=BOT_TOKEN, team_id=TEAM_ID, now=lambda: clock.now() + slack_ahead)
    await stub.start()
    settings = Settings(
        redis_url=redis_url,
        reminder_worker=worker,
        slack=SlackSettings(
            signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, api_url=stub.api_url
        ),
    )
    server = AsgiServer(create_app(settings, clock=clock, reminder_interval=0.02), lifespan="on")
    store = RedisSessionStore(redis_url)
    try:
        await server.start()
        async with httpx.AsyncClient(timeout=10) as http:
            yield Rig(
                stub, SlackClient(http, server.url, stub), clock, RedisReminderBook(store.client)
            )
    finally:
        await server.stop()
        await store.close()
        await stub.stop()


async def until(read: Callable[[], Awaitable[object]], expected: object) -> None:
    """Wait for something the server does in the background (the worker) to show."""
    for _ in range(1000):
        if await read() == expected:
            return
        await asyncio.sleep(0.01)
    assert await read() == expected


def ts(at: datetime) -> int:
    return int(at.timestamp())


async def test_a_tap_has_slack_keep_each_reminder_for_the_dm(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    # No worker in this process: scheduling belongs to the turn, not to the worker.
    async with rig(redis_url, worker=False) as r:
        before = counted("scheduled")
        card = await r.schedule_initial()
        held = r.stub.scheduled()
        assert [(m.channel, m.post_at) for m in held] == [(DM, ts(FIRST)), (DM, ts(LAST))]
        message = held[0].body
        text = all_text(message)
        assert "初期契約解除の最終日" in text and "2026年11月27日(金)" in text
        assert "遅れて" not in text  # Slack sends it on time: no late note
        values = [b.get("value", "") for b in buttons(message["blocks"])]
        assert any("topic:initial" in v for v in values)
        assert counted("scheduled") - before == 2
        # Kept by us beside the reminder, with Slack's id; nothing for our worker.
        kept = await r.book.listed(KEY)
        assert [k.hosted for k in kept] == [f"{DM} {m.id}" for m in held]
        assert await aredis.zcard(DUE_INDEX) == 0
        # The customer's list, and Slack's own list of what the app scheduled.
        listed = await r.answer(r.slack.command("リマインド一覧"))
        assert "11月26日(木) 9:00" in all_text(listed.body)
        assert "11月27日(金) 9:00" in all_text(listed.body)
        api = AsyncWebClient(token=BOT_TOKEN, base_url=r.stub.api_url)
        on_slack = (await api.chat_scheduledMessages_list(channel=DM))["scheduled_messages"]
        assert [(m["id"], m["post_at"]) for m in on_slack] == [(m.id, m.post_at) for m in held]

        # The same tap delivered again schedules nothing twice.
        again = await r.click(card, "リマインドする")
        assert CONFIRM in all_text(again.body)
        assert len(r.scheduling()) == 2 and len(r.stub.scheduled()) == 2

        # At 9:00 Slack posts the first; ours posts nothing, and the list keeps the second.
        r.clock.at = FIRST
        (posted,) = r.stub.posted_scheduled()
        assert posted.body["channel"] == DM and posted.body["scheduled_message_id"] == held[0].id
        left = await r.type_("リマインド一覧")
        assert "11月26日" not in all_text(left.body) and "11月27日(金) 9:00" in all_text(left.body)
        assert r.stub.of("chat.postMessage") == [left]


async def test_cancel_one_deletes_that_scheduled_message(redis_url: str) -> None:
    async with rig(redis_url) as r:
        await r.schedule_initial()
        first, second = r.stub.scheduled()
        before = counted("cancelled")
        listing = await r.type_("リマインド一覧")
        done = await r.click(listing, "解除 11/26 9:00")
        assert "11月26日(木) 9:00のリマインドを解除しました。" in all_text(done.body)
        (deleted,) = r.stub.of("chat.deleteScheduledMessage")
        assert deleted.body == {"channel": DM, "scheduled_message_id": first.id}
        assert deleted.response == {"ok": True}
        assert r.stub.scheduled() == [second]
        assert [k.due for k in await r.book.listed(KEY)] == [LAST]
        assert counted("cancelled") - before == 1


@pytest.mark.parametrize("how", ["リマインド解除", "データを削除"])
async def test_cancelling_all_or_deleting_my_data_deletes_every_one(
    redis_url: str, aredis: aioredis.Redis, how: str
) -> None:
    async with rig(redis_url) as r:
        await r.schedule_initial()
        ids = {m.id for m in r.stub.scheduled()}
        answer = await r.type_(how)
        if how == "リマインド解除":
            assert "リマインドを2件解除しました。" in all_text(answer.body)
        deleted = r.stub.of("chat.deleteScheduledMessage")
        assert {c.body["scheduled_message_id"] for c in deleted} == ids
        assert all(c.response == {"ok": True} for c in deleted)
        assert r.stub.scheduled() == []
        assert await r.book.listed(KEY) == []
        # Nothing is left for Slack to send, or for our worker.
        r.clock.at = LAST
        assert r.stub.posted_scheduled() == [] and await aredis.zcard(DUE_INDEX) == 0


async def test_a_message_slack_already_sent_still_cancels_for_the_customer(
    redis_url: str,
) -> None:
    # Slack's clock runs two minutes ahead of ours: at our 8:59 it has posted the 9:00
    # message, which we still list; deleting it is invalid_scheduled_message_id.
    async with rig(redis_url, slack_ahead=timedelta(minutes=2)) as r:
        await r.schedule_initial()
        listing = await r.type_("リマインド一覧")
        r.clock.at = FIRST - timedelta(minutes=1)
        done = await r.click(listing, "解除 11/26 9:00")
        assert "11月26日(木) 9:00のリマインドを解除しました。" in all_text(done.body)
        (deleted,) = r.stub.of("chat.deleteScheduledMessage")
        assert deleted.response["error"] == "invalid_scheduled_message_id"
        assert [k.due for k in await r.book.listed(KEY)] == [LAST]


async def old_voice_card(r: Rig) -> Call:
    """調定金 of an old voice SIM started 2026-11-01 and ended this month: charged
    through 2027-10, so the reminder is on 2027-11-01, past Slack's 120 days."""
    plan = await r.click(await r.menu(), "違約金・手数料")
    sim = await r.click(plan, "旧プラン")
    start = await r.click(sim, "音声通話SIM")
    end = await r.pick(start, "2026-11-01")
    return await r.click(end, "今月末")


async def test_a_deadline_beyond_120_days_falls_back_to_our_worker(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    due = datetime(2027, 11, 1, 9, 0, tzinfo=JST)
    async with rig(redis_url) as r:
        before = counted("fallback")
        confirm = await r.click(await old_voice_card(r), "リマインドする")
        assert "11月1日(月) 9:00 にお知らせします。" in all_text(confirm.body)
        (refused,) = r.scheduling()
        assert refused.response == {"ok": False, "error": "time_too_far"}
        assert r.stub.scheduled() == []
        assert counted("fallback") - before == 1
        (kept,) = await r.book.listed(KEY)
        assert kept == Reminder(kept.kind, kept.deadline, due)  # no Slack id: ours to send
        assert await aredis.zcard(DUE_INDEX) == 1

        # Our worker posts it at its time, to the DM, once.
        r.clock.at = due - timedelta(minutes=1)
        posts = len(r.stub.of("chat.postMessage"))
        r.clock.at = due
        await r.stub.wait_for(lambda: len(r.stub.of("chat.postMessage")) > posts)
        post = r.stub.of("chat.postMessage")[-1]
        assert post.body["channel"] == DM and post.status == 200
        assert "リマインド: 調定金がかからなくなる日" in all_text(post.body)
        await until(lambda: r.book.listed(KEY), [])  # sent, so forgotten


@pytest.mark.parametrize("status", [500, 429])
async def test_slack_down_at_scheduling_falls_back_and_still_confirms(
    redis_url: str, status: int
) -> None:
    async with rig(redis_url) as r:
        r.stub.fail_next("chat.scheduleMessage", status, retry_after=1)
        r.stub.fail_next("chat.scheduleMessage", status, retry_after=1)
        await r.schedule_initial()  # the customer still gets the confirmation
        assert [c.status for c in r.scheduling()] == [status, status]
        assert r.stub.scheduled() == []
        kept = await r.book.listed(KEY)
        assert [(k.due, k.hosted) for k in kept] == [(FIRST, None), (LAST, None)]
        listing = await r.type_("リマインド一覧")
        assert "11月26日(木) 9:00" in all_text(listing.body)
        # Our worker posts the first at its time; cancelling the second asks nothing of Slack.
        posts = len(r.stub.of("chat.postMessage"))
        r.clock.at = FIRST
        await r.stub.wait_for(lambda: len(r.stub.of("chat.postMessage")) > posts)
        post = r.stub.of("chat.postMessage")[-1]
        assert post.body["channel"] == DM and "初期契約解除の最終日" in all_text(post.body)
        done = await r.click(listing, "解除 11/27 9:00")
        assert "11月27日(金) 9:00のリマインドを解除しました。" in all_text(done.body)
        assert r.stub.of("chat.deleteScheduledMessage") == []
        await until(lambda: r.book.listed(KEY), [])
