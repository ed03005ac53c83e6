"""LINE end to end: turns are recorded under a hashed id; unfollow and 「データを削除」 over
the webhook take the customer's session, reminders and events away."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import redis.asyncio as aioredis

from core.clock import JST
from core.dialogue.loader import load_texts
from core.events import Outcome, TurnEvent, conversation_hash
from core.inbound import ConversationKey
from core.store import RedisSessionStore
from core.store.base import events_stream_key, reminders_key, session_key
from tests.integration.line_stub import LineHarness, line_harness

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 22, 10, 0, tzinfo=JST)
SECRET = b"line-events-test-key"
ME = ConversationKey("line", "-", "U1111")
OTHER = ConversationKey("line", "-", "U2222")


@pytest.fixture
async def line(redis_url: str) -> AsyncIterator[LineHarness]:
    async with line_harness(redis_url, NOW, hash_key=SECRET) as h:
        yield h


async def recorded(redis_url: str) -> list[TurnEvent]:
    store = RedisSessionStore(redis_url)
    try:
        return await store.read_events(0)
    finally:
        await store.close()


async def test_line_turns_are_recorded_by_hashed_id(line: LineHarness, redis_url: str) -> None:
    await line.send(line.event("follow"))
    await line.send(line.text("違約金はかかりますか"))
    await line.send(line.text("ぴよぴよ 09012345678"))
    got = await recorded(redis_url)
    assert [e.outcome for e in got] == [
        Outcome.QUESTION,
        Outcome.QUESTION,
        Outcome.NOT_UNDERSTOOD,
    ]
    assert {e.conv for e in got} == {conversation_hash(ME, SECRET)}
    assert got[1].topic == "fees"
    assert got[2].text == "ぴよぴよ <電話番号>"


async def test_unfollow_erases_session_reminders_and_events(
    line: LineHarness, redis_url: str, aredis: aioredis.Redis
) -> None:
    await line.send(line.event("follow"))
    await line.send(line.text("解約したい"))
    await line.send(line.text("解約したい", user=OTHER.user))
    await aredis.set(reminders_key(ME), "reserved")
    resp = await line.send(line.event("unfollow", reply_token=None))
    assert resp.status_code == 200
    assert await aredis.exists(session_key(ME), reminders_key(ME)) == 0
    assert {e.conv for e in await recorded(redis_url)} == {conversation_hash(OTHER, SECRET)}
    assert await aredis.xlen(events_stream_key()) == 1


async def test_erase_request_is_confirmed_on_line(
    line: LineHarness, redis_url: str, aredis: aioredis.Redis
) -> None:
    await line.send(line.text("解約したい"))
    await line.send(line.text("履歴を消してください"))
    sent = line.stub.delivered[-1].messages
    assert sent[0]["text"] == load_texts()["erased"]
    assert await recorded(redis_url) == []
    assert await aredis.exists(session_key(ME)) == 0
