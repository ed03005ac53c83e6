"""Every turn leaves an anonymised event in Redis; 「データを削除」 takes it all back.

Real Redis, the shipped dialogue and understanding, the real runner."""

from __future__ import annotations

from datetime import datetime

import pytest
import redis.asyncio as aioredis

from core.clock import JST, FixedClock
from core.dialogue import default_dialogue
from core.dialogue.loader import load_texts
from core.events import Outcome, TurnEvent, conversation_hash
from core.inbound import ConversationKey, Inbound, InboundKind
from core.store import RedisSessionStore
from core.store.base import events_stream_key, reminders_key, session_key
from core.turn import TurnRunner

KEY = ConversationKey("line", "-", "U4af4980629a0b7f6d2c3e1f0a9b8c7d6")
NEIGHBOUR = ConversationKey("line", "-", "U0000000000000000000000000000beef")
NOW = datetime(2026, 6, 20, 10, 0, tzinfo=JST)
SECRET = b"events-test-key"


@pytest.fixture
def runner(store: RedisSessionStore) -> TurnRunner:
    return TurnRunner(store, default_dialogue(), FixedClock(NOW), hash_key=SECRET)


async def say(runner: TurnRunner, text: str, key: ConversationKey = KEY) -> list[str]:
    out = await runner.run(Inbound(key, InboundKind.TEXT, text=text))
    assert out.reply is not None
    return out.reply.readable_texts()


async def press(runner: TurnRunner, value: str, node: str) -> None:
    await runner.run(Inbound(KEY, InboundKind.CHOICE, choice_value=value, choice_node=node))


async def events(store: RedisSessionStore) -> list[TurnEvent]:
    return await store.read_events(0)


async def test_each_turn_is_recorded_with_its_outcome_topic_and_nodes(
    runner: TurnRunner, store: RedisSessionStore
) -> None:
    await runner.run(Inbound(KEY, InboundKind.START))
    await say(runner, "違約金はかかる？")
    await press(runner, "giga", "fees")
    got = await events(store)
    assert [(e.outcome, e.node_before, e.topic) for e in got] == [
        (Outcome.QUESTION, "", ""),
        (Outcome.QUESTION, "menu", "fees"),
        (Outcome.ANSWERED, "fees", "fees"),
    ]
    assert [e.input for e in got] == ["start", "text", "choice"]
    assert all(e.platform == "line" for e in got)
    assert {e.conv for e in got} == {conversation_hash(KEY, SECRET)}
    assert got[-1].ts_ms == int(NOW.timestamp() * 1000)
    # Understood text is never kept.
    assert all(e.text == "" for e in got)


async def test_text_not_understood_is_kept_masked_and_the_user_id_never(
    runner: TurnRunner, store: RedisSessionStore, aredis: aioredis.Redis
) -> None:
    await say(
        runner, "０９０ー１２３４ー５６７８に折り返しもらえますか？１２３４５６７８９０の件です"
    )
    await say(runner, "ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ 宛に 〒１００－０００１ の件")
    got = [e for e in await events(store) if e.outcome is Outcome.NOT_UNDERSTOOD]
    assert [e.text for e in got] == [
        "<電話番号>に折り返しもらえますか？<数字>の件です",
        "<メール> 宛に <郵便番号> の件",
    ]
    raw = b"".join(
        b"".join([*fields.keys(), *fields.values()])
        for _, fields in await aredis.xrange(events_stream_key())
    )
    for secret in ("1234", "5678", "yamada", "U4af4980629", "ｙａｍａｄａ"):
        assert secret.encode() not in raw
    assert not [k for k in await aredis.keys("*{events}*") if KEY.user.encode() in k]


async def test_off_topic_is_a_fallback_without_text(
    runner: TurnRunner, store: RedisSessionStore
) -> None:
    await say(runner, "明日の天気は？")
    [event] = await events(store)
    assert event.outcome is Outcome.FALLBACK
    assert event.text == ""


async def test_erase_command_deletes_session_reminders_and_events_and_confirms(
    runner: TurnRunner, store: RedisSessionStore, aredis: aioredis.Redis
) -> None:
    await say(runner, "解約したい")
    await say(runner, "あいうえお")
    await say(runner, "解約したい", key=NEIGHBOUR)
    await aredis.set(reminders_key(KEY), "reserved")
    reply = await say(runner, "データを削除してください")
    assert reply == [load_texts()["erased"]]
    assert await aredis.exists(session_key(KEY), reminders_key(KEY)) == 0
    left = await events(store)
    assert [e.conv for e in left] == [conversation_hash(NEIGHBOUR, SECRET)]
    # The conversation starts afresh, and is recorded again from then on.
    await say(runner, "履歴を消して")
    assert len(await events(store)) == 1


@pytest.mark.parametrize(
    "text",
    [
        "データを削除",
        "履歴を消して",
        "履歴を消してください",
        "私のデータを削除して",
        "データを消して下さい",
    ],
)
async def test_ways_to_ask_for_deletion(
    runner: TurnRunner, store: RedisSessionStore, text: str
) -> None:
    await say(runner, "解約したい")
    assert await say(runner, text) == [load_texts()["erased"]]
    assert await events(store) == []


async def test_without_a_hash_key_nothing_is_recorded(store: RedisSessionStore) -> None:
    plain = TurnRunner(store, default_dialogue(), FixedClock(NOW))
    await say(plain, "あいうえお")
    assert await events(store) == []


async def test_a_handoff_after_three_misses_still_counts_its_text_as_unanswered(
    runner: TurnRunner, store: RedisSessionStore
) -> None:
    await runner.run(Inbound(KEY, InboundKind.START))
    for text in ("ぴよぴよ", "ほげほげ", "０９０ー１２３４ー５６７８ふがふが"):
        await say(runner, text)
    got = (await events(store))[1:]
    assert [e.outcome for e in got] == [
        Outcome.NOT_UNDERSTOOD,
        Outcome.NOT_UNDERSTOOD,
        Outcome.HANDOFF,
    ]
    # The third is a handoff, and still a message the bot could not read: the team sees it
    # among the unanswered texts (masked) and in 0件ヒット率.
    assert [e.unanswered for e in got] == [True, True, True]
    assert got[-1].text == "<電話番号>ふがふが"
