"""Reminders on Slack: scheduled in a turn, sent at the due time by chat.postMessage to the
customer's DM, against the stub Slack API over HTTP (issue 10)."""

from __future__ import annotations

from datetime import datetime

from adapters.slack.remind import SlackReminderSender
from core.clock import JST
from core.dialogue import default_dialogue
from core.inbound import ConversationKey, Inbound, InboundKind
from core.remind.book import RedisReminderBook
from core.remind.service import Reminders
from core.remind.worker import ReminderWorker
from core.store import RedisSessionStore
from core.turn import TurnRunner
from tests.clocks import MovingClock
from tests.integration.slack_stub import BOT_TOKEN, TEAM_ID, SlackStub, all_text, buttons

KEY = ConversationKey("slack", TEAM_ID, "U0ALICE")


async def test_withdrawal_reminder_reaches_the_dm_at_five(redis_url: str) -> None:
    stub = SlackStub(token=BOT_TOKEN, team_id=TEAM_ID)
    await stub.start()
    store = RedisSessionStore(redis_url)
    sender = SlackReminderSender(BOT_TOKEN, stub.api_url)
    await sender.start()
    try:
        clock = MovingClock(datetime(2026, 11, 25, 12, 0, tzinfo=JST))
        reminders = Reminders(RedisReminderBook(store.client))
        runner = TurnRunner(store, default_dialogue(), clock, reminders=reminders)
        out = await runner.run(
            Inbound(KEY, InboundKind.CHOICE, choice_value="remind:withdraw:2026-11-30T20:00")
        )
        assert out.reply is not None
        assert out.reply.texts == ("11月30日(月) 17:00 にお知らせします。",)
        worker = ReminderWorker(reminders, clock, {"slack": sender})
        clock.at = datetime(2026, 11, 30, 16, 59, tzinfo=JST)
        assert await worker.run_once() == 0
        clock.at = datetime(2026, 11, 30, 17, 0, tzinfo=JST)
        assert await worker.run_once() == 1
        (post,) = stub.of("chat.postMessage")
        assert post.status == 200 and post.body["channel"] == "DU0ALICE"
        text = all_text(post.body)
        assert "解約予約の取り消し期限" in text and "2026年11月30日(月) 20:00" in text
        values = [b.get("value", "") for b in buttons(post.body["blocks"])]
        assert any("topic:withdraw" in v for v in values)
        assert await worker.run_once() == 0 and len(stub.of("chat.postMessage")) == 1
    finally:
        await sender.stop()
        await store.close()
        await stub.stop()
