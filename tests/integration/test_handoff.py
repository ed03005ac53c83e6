"""Issue 9, end to end: feedback under the cards, and a person when the customer needs one.

The real LINE and Slack adapters over HTTP against the LINE and Slack stubs, the real
runner on a real Redis, the shipped flow and texts; only the clock is the test's, so a
handoff's TTL can pass. Every trigger of a handoff (asked in words, 「解決しない」 →
「担当者に相談」, the third message not understood) and every way out (the operator's
「ボットに戻す」, the customer's 「ボットに戻る」, the TTL) is played here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from adapters.line import postback
from adapters.slack import SlackBot
from adapters.slack.desk import SlackDesk
from core.clock import JST
from core.dialogue import default_dialogue
from core.dialogue.loader import load_texts
from core.events import Outcome, TurnEvent, conversation_hash
from core.handoff import HandoffSetup, SupportHours
from core.inbound import ConversationKey
from core.session import Session
from core.store import RedisSessionStore
from core.store.base import session_key
from core.store.handoffs import index_for, index_key
from core.turn import TurnRunner
from tests.clocks import MovingClock
from tests.integration.line_stub import LineHarness, line_harness
from tests.integration.slack_stub import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM_ID,
    BotServer,
    SlackClient,
    SlackStub,
    all_text,
    button,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=JST)  # a Tuesday, inside the support hours
EVENING = datetime(2026, 11, 24, 20, 0, tzinfo=JST)
SECRET = b"handoff-test-hash-key"
TTL = 3600
DESK_CHANNEL = "C0DESK"
ME = ConversationKey("line", "-", "U1111")
TEXTS = load_texts()


@dataclass
class Desk:
    line: LineHarness
    slack: SlackClient
    stub: SlackStub
    bot: SlackBot
    clock: MovingClock
    store: RedisSessionStore

    async def say(self, text: str, **kw: Any) -> list[dict[str, Any]]:
        """What the LINE customer receives for one message ([] when the bot is silent)."""
        # LINE stamps an event when it is sent: with the bot's clock, so a moved clock does
        # not make the event look like an old one replayed.
        self.line.now = self.clock.now()
        before = len(self.line.stub.delivered)
        await self.line.send(self.line.text(text, **kw))
        return [m for d in self.line.stub.delivered[before:] for m in d.messages]

    async def tap(self, messages: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
        """Tap the quick reply `label` of the last answer, as LINE posts it back."""
        items = messages[-1].get("quickReply", {}).get("items", [])
        data = next(i["action"]["data"] for i in items if i["action"]["label"] == label)
        self.line.now = self.clock.now()
        before = len(self.line.stub.delivered)
        await self.line.send(self.line.postback(data))
        return [m for d in self.line.stub.delivered[before:] for m in d.messages]

    def cards(self) -> list[dict[str, Any]]:
        """Handoff cards posted to the support channel (thread replies left out)."""
        return [
            c.body
            for c in self.stub.of("chat.postMessage")
            if c.body.get("channel") == DESK_CHANNEL and not c.body.get("thread_ts")
        ]

    async def press(self, card: dict[str, Any], label: str, operator: str = "U0OPS") -> None:
        """An operator clicks a button of the card (as Slack posts the click back)."""
        ts = "1700000000.000001"
        blocks = card["blocks"]
        payload = self.slack.action_payload(
            button(blocks, label),
            user=operator,
            url_name=None,
            container={"type": "message", "message_ts": ts, "channel_id": DESK_CHANNEL},
        )
        payload["message"] = {"ts": ts, "blocks": blocks}
        payload["channel"] = {"id": DESK_CHANNEL, "name": "support"}
        resp = await self.slack.action(payload)
        assert resp.status_code == 200
        await self.bot.idle()

    async def session(self, key: ConversationKey = ME) -> Session | None:
        return (await self.store.load(key)).session

    async def events(self) -> list[TurnEvent]:
        return await self.store.read_events(0)


@contextlib.asynccontextmanager
async def desk_harness(
    redis_url: str, *, now: datetime = NOW, channel: str | None = DESK_CHANNEL
) -> AsyncIterator[Desk]:
    stub = SlackStub(token=BOT_TOKEN, team_id=TEAM_ID)
    await stub.start()
    store = RedisSessionStore(redis_url)
    clock = MovingClock(now)
    desk = None
    if channel is not None:
        desk = SlackDesk(bot_token=BOT_TOKEN, api_url=stub.api_url, channel=channel)
    handoffs = HandoffSetup.build(
        desk=desk,
        index=index_for(store) if desk is not None else None,
        hours=SupportHours.parse("weekdays 09:00-18:00"),
        ttl=TTL,
    )
    runner = TurnRunner(store, default_dialogue(), clock, hash_key=SECRET, handoffs=handoffs)
    bot = SlackBot(
        signing_secret=SIGNING_SECRET,
        bot_token=BOT_TOKEN,
        api_url=stub.api_url,
        runner=runner,
        desk=desk,
    )
    server = BotServer(bot)
    await server.start()
    try:
        async with (
            line_harness(redis_url, now, runner=runner) as line,
            httpx.AsyncClient(timeout=10) as http,
        ):
            yield Desk(line, SlackClient(http, server.url, stub), stub, bot, clock, store)
    finally:
        await server.stop()
        await store.close()
        await stub.stop()


@pytest.fixture
async def desk(redis_url: str) -> AsyncIterator[Desk]:
    async with desk_harness(redis_url) as d:
        yield d


def text_of(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages, ensure_ascii=False)


def quick_labels(messages: list[dict[str, Any]]) -> list[str]:
    items = messages[-1].get("quickReply", {}).get("items", []) if messages else []
    return [i["action"]["label"] for i in items]


# ---- 「解決しましたか？」 --------------------------------------------------------------


async def test_a_card_on_line_offers_the_two_feedback_choices_after_its_own(desk: Desk) -> None:
    got = await desk.say("解約したい")
    labels = quick_labels(got)
    assert labels[-2:] == ["解決した", "解決しない"]
    assert "解約前の確認" in labels and "メニューへ" in labels
    values = [postback.decode(i["action"]["data"]).value for i in got[-1]["quickReply"]["items"]]
    assert values[-2:] == ["fb:resolved", "fb:unresolved"]


async def test_resolved_thanks_the_customer_and_is_recorded(desk: Desk) -> None:
    card = await desk.say("解約したい")
    got = await desk.tap(card, "解決した")
    assert TEXTS["feedback_thanks"] in text_of(got)
    assert "解決した" not in quick_labels(got)  # asked once per card
    assert "メニューへ" in quick_labels(got)  # the conversation stays usable
    assert [e.outcome for e in await desk.events()][-1] is Outcome.FEEDBACK_RESOLVED
    again = await desk.say("MNPで乗り換えたい")
    assert "MNP予約番号" in text_of(again)


async def test_unresolved_offers_a_topic_the_contacts_or_a_person_and_is_recorded(
    desk: Desk,
) -> None:
    card = await desk.say("違約金はかかりますか")
    card = await desk.tap(card, "ギガプラン")
    got = await desk.tap(card, "解決しない")
    assert quick_labels(got) == ["ほかの内容を見る", "問い合わせ先", "担当者に相談"]
    assert [e.outcome for e in await desk.events()][-1] is Outcome.FEEDBACK_UNRESOLVED
    contacts = await desk.tap(got, "問い合わせ先")
    assert "0570-09-4400" in text_of(contacts)


# ---- a person, on LINE: triggers ---------------------------------------------------------


async def test_asking_for_a_person_posts_a_masked_card_and_says_what_happens_next(
    desk: Desk,
) -> None:
    await desk.say("6月20日に使い始めました。最低利用期間は？ 090-1234-5678 まで電話ください")
    await desk.say("<!channel> 至急")
    got = await desk.say("オペレーターと話したい")
    text = text_of(got)
    assert "担当者がこのトークでお返事します" in text
    assert "受付時間: 平日 9:00〜18:00" in text
    assert quick_labels(got) == []  # the bot will not answer buttons meanwhile
    [card] = desk.cards()
    shown = all_text(card)
    assert "LINE" in shown and "最低利用期間" in shown
    assert "・利用開始日: 2026年6月20日(土)" in shown  # the facts the customer gave
    assert "&lt;電話番号&gt;" in shown and "090-1234-5678" not in shown
    assert "<!channel>" not in shown  # what a customer writes cannot ping the channel
    assert "U1111" not in shown  # the LINE user id never reaches the channel
    assert conversation_hash(ME, SECRET) in shown
    assert [e["text"]["text"] for e in card["blocks"][-1]["elements"]] == [
        "対応します",
        "ボットに戻す",
    ]
    assert [e.outcome for e in await desk.events()][-1] is Outcome.HANDOFF


async def test_unresolved_then_a_person_hands_over_with_that_reason(desk: Desk) -> None:
    card = await desk.say("解約したい")
    menu = await desk.tap(card, "解決しない")
    got = await desk.tap(menu, "担当者に相談")
    assert "担当者がこのトークでお返事します" in text_of(got)
    [card_posted] = desk.cards()
    assert "「解決しない」から担当者に相談" in all_text(card_posted)


async def test_the_third_message_not_understood_hands_over(desk: Desk) -> None:
    await desk.say("違約金")
    assert await desk.say("あいうえお")
    assert desk.cards() == []
    await desk.say("ほげほげ")
    got = await desk.say("ふがふが")
    text = text_of(got)
    assert "うまくご案内できず申し訳ありません" in text
    assert "担当者がこのトークでお返事します" in text
    [card] = desk.cards()
    assert "ボットが3回続けて読み取れず" in all_text(card)
    assert "&gt; ふがふが" not in all_text(card)  # the quote marks are ours, not escaped
    assert "> ふがふが" in all_text(card) and "> ほげほげ" in all_text(card)


# ---- while handed off, and every way back ------------------------------------------------


async def test_the_bot_is_silent_while_a_person_has_the_chat_but_remembers(
    desk: Desk,
) -> None:
    await desk.say("人と話したい")
    assert await desk.say("まだですか？ 私の番号は 080 1111 2222 です") == []
    assert await desk.say("解約したい") == []
    session = await desk.session()
    assert session is not None and session.handoff_at
    assert session.recent[-2:] == ("まだですか？ 私の番号は <電話番号> です", "解約したい")
    # The person who has the chat sees them, masked, in the card's thread.
    card_ts = next(
        c.response["ts"] for c in desk.stub.of("chat.postMessage") if not c.body.get("thread_ts")
    )
    relayed = [c.body for c in desk.stub.of("chat.postMessage") if c.body.get("thread_ts")]
    assert [r["thread_ts"] for r in relayed] == [card_ts, card_ts]
    assert "> まだですか？ 私の番号は &lt;電話番号&gt; です" in relayed[0]["text"]
    assert "080" not in relayed[0]["text"] and "> 解約したい" in relayed[1]["text"]


async def test_operator_takes_it_then_hands_it_back_to_the_bot(desk: Desk) -> None:
    await desk.say("人と話したい")
    [card] = desk.cards()
    await desk.press(card, "対応します", operator="U0OPS")
    [taken] = desk.stub.of("chat.update")
    assert taken.body["channel"] == DESK_CHANNEL
    assert "<@U0OPS> さんが対応中です" in all_text(taken.body)
    assert [e["text"]["text"] for e in taken.body["blocks"][-1]["elements"]] == ["ボットに戻す"]
    assert await desk.say("よろしくお願いします") == []  # still with the person

    await desk.press(taken.body, "ボットに戻す", operator="U0OPS")
    released = desk.stub.of("chat.update")[-1]
    assert "<@U0OPS> さんがボットに戻しました" in all_text(released.body)
    assert not [b for b in released.body["blocks"] if b.get("type") == "actions"]
    session = await desk.session()
    assert session is not None and not session.handoff_at
    assert "解約（MNPなし）の手順" in text_of(await desk.say("解約したい"))


async def test_customer_says_back_to_the_bot(desk: Desk) -> None:
    await desk.say("違約金はかかりますか")
    await desk.say("人と話したい")
    got = await desk.say("ボットに戻る")
    text = text_of(got)
    assert TEXTS["handoff_resumed"] in text
    assert "ギガプラン" in quick_labels(got)  # the question they were at, asked again
    # The card is stale now: the operator's 「ボットに戻す」 says so instead of acting.
    [card] = desk.cards()
    await desk.press(card, "ボットに戻す")
    assert "すでにボットに戻っています" in all_text(desk.stub.of("chat.update")[-1].body)


async def test_the_handoff_ends_when_its_ttl_passes(desk: Desk) -> None:
    await desk.say("人と話したい")
    desk.clock.at = NOW + timedelta(seconds=TTL - 1)
    assert await desk.say("もしもし") == []
    desk.clock.at = NOW + timedelta(seconds=TTL + 1)
    got = await desk.say("解約したい")
    text = text_of(got)
    assert TEXTS["handoff_expired"] in text
    assert "解約（MNPなし）の手順" in text
    session = await desk.session()
    assert session is not None and not session.handoff_at


async def test_erasing_data_works_even_while_handed_off(desk: Desk, aredis: aioredis.Redis) -> None:
    await desk.say("人と話したい")
    assert await aredis.exists(index_key(conversation_hash(ME, SECRET))) == 1
    got = await desk.say("データを削除してください")
    assert got  # not silent: the customer is told their data is gone
    assert await aredis.exists(session_key(ME)) == 0
    # The desk's way back to the conversation (it holds the user id) is gone as well.
    assert await aredis.exists(index_key(conversation_hash(ME, SECRET))) == 0


# ---- when no person can take it ----------------------------------------------------------


async def test_outside_support_hours_the_phone_and_form_instead(redis_url: str) -> None:
    async with desk_harness(redis_url, now=EVENING) as desk:
        got = await desk.say("オペレーターと話したい")
        text = text_of(got)
        assert "受付時間外" in text and "0570-09-4400" in text
        assert desk.cards() == []
        assert "解約（MNPなし）の手順" in text_of(await desk.say("解約したい"))  # not silent


async def test_without_a_handoff_channel_the_contacts_and_the_event(redis_url: str) -> None:
    async with desk_harness(redis_url, channel=None) as desk:
        got = await desk.say("人と話したい")
        assert TEXTS["handoff_contacts"].splitlines()[0] in text_of(got)
        assert desk.stub.of("chat.postMessage") == []
        assert [e.outcome for e in await desk.events()] == [Outcome.HANDOFF]
        assert await desk.say("解約したい") != []


async def test_a_card_slack_refuses_gives_the_contacts_and_keeps_the_bot_on(desk: Desk) -> None:
    desk.stub.fail_next("chat.postMessage", 500)
    got = await desk.say("人と話したい")
    text = text_of(got)
    assert "0570-09-4400" in text and "担当者がこのトークでお返事します" not in text
    session = await desk.session()
    assert session is not None and not session.handoff_at
    assert await desk.say("解約したい") != []


# ---- a Slack customer --------------------------------------------------------------------


async def test_a_slack_customer_is_told_to_expect_a_dm_and_the_card_has_a_thread(
    desk: Desk,
) -> None:
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": "D0ALICE",
        "user": "U0ALICE",
        "text": "人と話したい",
        "ts": "1700000005.000100",
    }
    assert (await desk.slack.event(event)).status_code == 200
    await desk.bot.idle()
    [dm] = [c for c in desk.stub.of("chat.postMessage") if c.body.get("channel") == "D0ALICE"]
    assert "担当者がこのDMでお返事します" in all_text(dm.body)
    [card] = desk.cards()
    assert "Slack" in all_text(card)
    [thread] = [c for c in desk.stub.of("chat.postMessage") if c.body.get("thread_ts")]
    assert thread.body["channel"] == DESK_CHANNEL
    assert "<@U0ALICE>" in thread.body["text"]
    # Silent in the DM until handed back; what they write goes to the thread.
    later = {**event, "text": "まだですか", "ts": "1700000006.000100"}
    await desk.slack.event(later)
    await desk.bot.idle()
    assert len([c for c in desk.stub.of("chat.postMessage") if c.body["channel"] == "D0ALICE"]) == 1
    relayed = [c.body for c in desk.stub.of("chat.postMessage") if c.body.get("thread_ts")]
    assert len(relayed) == 2 and "> まだですか" in relayed[-1]["text"]
