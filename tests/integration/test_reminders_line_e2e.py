"""Reminders end to end on LINE: the real webhook and runner on real Redis, the stub LINE
API over HTTP, and the worker pushing at the due time (issue 10)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from adapters.line import LineBot
from adapters.line.remind import LineReminderSender
from core.clock import JST
from core.dialogue import default_dialogue
from core.inbound import ConversationKey
from core.remind.book import RedisReminderBook
from core.remind.service import Reminders
from core.remind.worker import ReminderWorker
from core.store import RedisSessionStore
from core.turn import TurnRunner
from tests.clocks import MovingClock
from tests.integration.line_stub import (
    ACCESS_TOKEN,
    CHANNEL_SECRET,
    LineHarness,
    LineStub,
    make_bot_app,
    serve,
)

USER = "U1111"
KEY = ConversationKey("line", "-", USER)


@dataclass
class Rig:
    line: LineHarness
    clock: MovingClock
    worker: ReminderWorker
    book: RedisReminderBook


@pytest.fixture
async def rig(redis_url: str) -> AsyncIterator[Rig]:
    stub = LineStub()
    store = RedisSessionStore(redis_url)
    clock = MovingClock(datetime(2026, 11, 20, 10, 0, tzinfo=JST))
    book = RedisReminderBook(store.client)
    reminders = Reminders(book)
    runner = TurnRunner(store, default_dialogue(), clock, reminders=reminders)
    try:
        async with serve(stub.app()) as stub_url:
            bot = LineBot(
                channel_secret=CHANNEL_SECRET,
                access_token=ACCESS_TOKEN,
                api_base_url=stub_url,
                runner=runner,
            )
            sender = LineReminderSender(ACCESS_TOKEN, stub_url)
            await sender.start()
            worker = ReminderWorker(reminders, clock, {"line": sender}, monthly_cap=100)
            async with serve(make_bot_app(bot)) as bot_url, httpx.AsyncClient(timeout=30) as http:
                yield Rig(LineHarness(stub, bot_url, http, bot, clock=clock), clock, worker, book)
            await sender.stop()
    finally:
        await store.close()


def last_items(rig: Rig) -> list[dict[str, Any]]:
    messages = rig.line.stub.delivered[-1].messages
    items: list[dict[str, Any]] = messages[-1]["quickReply"]["items"]
    return items


def texts_of(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages, ensure_ascii=False)


async def schedule(rig: Rig) -> None:
    h = rig.line
    await h.send(h.text("初期契約解除"))
    await h.send(h.postback("n=initial&d=1", params={"date": "2026-11-20"}))
    remind = [i for i in last_items(rig) if i["action"]["label"] == "リマインドする"]
    assert remind, "the card offers リマインドする"
    await h.send(h.postback(remind[0]["action"]["data"]))
    confirm = rig.line.stub.delivered[-1].messages[0]["text"]
    assert confirm == "11月26日(木) 9:00 と 11月27日(金) 9:00 にお知らせします。"


async def test_the_reminder_is_pushed_once_at_its_time(rig: Rig) -> None:
    await schedule(rig)
    pushes_before = len(rig.line.stub.calls("/v2/bot/message/push"))
    rig.clock.at = datetime(2026, 11, 26, 8, 59, tzinfo=JST)
    assert await rig.worker.run_once() == 0
    rig.clock.at = datetime(2026, 11, 26, 9, 0, 30, tzinfo=JST)
    assert await rig.worker.run_once() == 1
    assert await rig.worker.run_once() == 0
    pushes = [d for d in rig.line.stub.delivered if d.method == "push"]
    assert len(rig.line.stub.calls("/v2/bot/message/push")) == pushes_before + 1
    (push,) = pushes
    assert push.target == USER and push.retry_key
    body = texts_of(push.messages)
    assert "初期契約解除の最終日" in body and "2026年11月27日(金)" in body
    assert "https://www.iijmio.jp/service/setup/hdd/terminate/" in body
    assert "遅れて" not in body
    # Its button opens the topic.
    topic = [
        i for i in push.messages[-1]["quickReply"]["items"] if "詳しく" in i["action"]["label"]
    ]
    await rig.line.send(rig.line.postback(topic[0]["action"]["data"]))
    assert "初期契約解除" in texts_of(rig.line.stub.delivered[-1].messages)
    assert await rig.book.pushes("2026-11") == 1


async def test_a_retried_push_reaches_the_customer_once(rig: Rig) -> None:
    await schedule(rig)
    rig.line.stub.accept_then_fail_pushes = 1  # LINE took it, but the answer was lost
    rig.clock.at = datetime(2026, 11, 26, 9, 0, tzinfo=JST)
    assert await rig.worker.run_once() == 1  # the retry got 409: already accepted
    assert len([d for d in rig.line.stub.delivered if d.method == "push"]) == 1


async def test_unfollow_removes_the_reminders(rig: Rig) -> None:
    await schedule(rig)
    await rig.line.send(rig.line.event("unfollow", reply_token=None))
    assert await rig.book.listed(KEY) == []
    rig.clock.at = datetime(2026, 11, 27, 9, 0, tzinfo=JST)
    assert await rig.worker.run_once() == 0
    assert [d for d in rig.line.stub.delivered if d.method == "push"] == []
