"""The LINE webhook over real HTTP, real Redis, the shipped flow, a stub LINE API."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from adapters.line import postback
from adapters.line.send import retry_key
from core.clock import JST
from core.inbound import ConversationKey
from core.session import Session
from core.store.base import session_key
from tests.integration.line_stub import LineHarness, line_harness, sign

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 22, 10, 0, tzinfo=JST)
USER = "U1111"


@pytest.fixture
async def line(redis_url: str) -> AsyncIterator[LineHarness]:
    async with line_harness(redis_url, NOW) as h:
        yield h


def _key(user: str = USER, workspace: str = "-") -> str:
    return session_key(ConversationKey(platform="line", workspace=workspace, user=user))


async def _session(r: aioredis.Redis, user: str = USER, workspace: str = "-") -> Session | None:
    raw = await r.get(_key(user, workspace))
    return None if raw is None else Session.from_json(raw)


def _quick_labels(msg: dict[str, Any]) -> list[str]:
    return [i["action"]["label"] for i in msg.get("quickReply", {}).get("items", [])]


def _quick_values(msg: dict[str, Any]) -> list[str]:
    """The choice values behind the quick replies (labels are copy and may change)."""
    items = msg.get("quickReply", {}).get("items", [])
    decoded = [postback.decode(i["action"].get("data", "")) for i in items]
    return [d.value for d in decoded if d.value is not None]


def _all_text(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages, ensure_ascii=False)


# --- happy paths ------------------------------------------------------------------------


async def test_follow_greets_with_the_menu(line: LineHarness, aredis: aioredis.Redis) -> None:
    ev = line.event("follow", follow={"isUnblocked": False})
    resp = await line.send(ev)
    assert resp.status_code == 200
    (d,) = line.stub.delivered
    assert d.method == "reply" and d.target == ev["replyToken"]
    values = _quick_values(d.messages[-1])
    assert "cancel" in values and "initial" in values
    session = await _session(aredis)
    assert session is not None and session.node == "menu"
    assert not line.stub.calls("/v2/bot/chat/loading/start")  # fast path: no animation


async def test_japanese_text_is_signed_byte_exact_and_answered(
    line: LineHarness, aredis: aioredis.Redis
) -> None:
    text = "解約したい😊　ＩＩＪｍｉｏの回線です"
    ev = line.text(text)
    body = json.dumps({"destination": "Ubot", "events": [ev]}, ensure_ascii=False).encode()
    # The same JSON with \\u escapes is a different byte string: its signature must not pass.
    escaped = json.dumps({"destination": "Ubot", "events": [ev]}, ensure_ascii=True).encode()
    assert (await line.post_raw(body, sign(escaped))).status_code == 400
    assert line.stub.delivered == []

    resp = await line.post_raw(body, sign(body))
    assert resp.status_code == 200
    (d,) = line.stub.delivered
    assert d.messages and _quick_labels(d.messages[-1])  # answered, with buttons to go on
    session = await _session(aredis)
    assert session is not None and session.node != "menu"  # the text moved the conversation


async def test_choice_then_date_picker_gives_the_dated_card(
    line: LineHarness, aredis: aioredis.Redis
) -> None:
    await line.send(line.event("follow"))
    await line.send(line.postback("n=menu&v=initial"))
    asked = line.stub.delivered[-1].messages
    picker = asked[-1]["quickReply"]["items"][0]["action"]
    assert picker["type"] == "datetimepicker" and picker["mode"] == "date"
    assert picker["max"] == "2026-06-22"  # no future receipt dates

    # What LINE sends back when the user picks 2026-06-20 in the picker.
    resp = await line.send(line.postback(picker["data"], params={"date": "2026-06-20"}))
    assert resp.status_code == 200
    answer = line.stub.delivered[-1].messages
    card = next(m for m in answer if m["type"] == "flex")
    dumped = _all_text([card])
    assert "2026年6月27日(土)" in dumped  # receipt day counts as day 1: 8th day is 6/27
    footer = card["contents"]["footer"]["contents"]
    assert footer[0]["action"]["uri"].startswith("https://www.iijmio.jp/")
    assert "時点" in dumped and len(card["altText"]) <= 1500
    session = await _session(aredis)
    assert session is not None and session.answer("received_date") == "2026-06-20"


def _picker(messages: list[dict[str, Any]]) -> dict[str, Any]:
    action: dict[str, Any] = messages[-1]["quickReply"]["items"][0]["action"]
    assert action["type"] == "datetimepicker"
    return action


async def test_an_older_date_picker_does_not_fill_the_current_question(
    line: LineHarness, aredis: aioredis.Redis
) -> None:
    await line.send(line.postback("n=menu&v=fees"))
    await line.send(line.postback("n=fees&v=old"))
    await line.send(line.postback("n=fees_sim&v=voice"))
    start_picker = _picker(line.stub.delivered[-1].messages)  # 利用開始日
    await line.send(line.postback(start_picker["data"], params={"date": "2026-01-10"}))
    _picker(line.stub.delivered[-1].messages)  # now the end date is asked

    # The customer scrolls up and taps the start-date picker again.
    resp = await line.send(line.postback(start_picker["data"], params={"date": "2026-03-01"}))
    assert resp.status_code == 200
    again = line.stub.delivered[-1].messages
    assert "受付を終了しました" in _all_text(again)
    _picker(again)  # the end date is asked again, with its own picker
    session = await _session(aredis)
    assert session is not None and session.node == "fees_end"
    assert session.answer("start_date") == "2026-01-10"
    assert session.answer("voice_end") is None


async def test_typed_date_works_like_the_picker(line: LineHarness) -> None:
    await line.send(line.postback("n=menu&v=initial"))
    await line.send(line.text("6月20日"))
    assert "2026年6月27日(土)" in _all_text(line.stub.delivered[-1].messages)


async def test_sticker_counts_as_no_input_and_re_asks(line: LineHarness) -> None:
    await line.send(line.event("follow"))
    resp = await line.send(
        line.event(
            "message", message={"type": "sticker", "id": "2", "packageId": "1", "stickerId": "1"}
        )
    )
    assert resp.status_code == 200
    again = line.stub.delivered[-1].messages
    assert "cancel" in _quick_values(again[-1])  # the same question, offered again


async def test_unfollow_forgets_the_session(line: LineHarness, aredis: aioredis.Redis) -> None:
    await line.send(line.event("follow"))
    assert await _session(aredis) is not None
    sent_before = len(line.stub.delivered)
    resp = await line.send(line.event("unfollow", reply_token=None))
    assert resp.status_code == 200
    assert await _session(aredis) is None
    assert len(line.stub.delivered) == sent_before  # a blocked user cannot be answered


async def test_more_choices_postback_shows_the_current_question_without_a_turn(
    line: LineHarness, aredis: aioredis.Redis
) -> None:
    await line.send(line.event("follow"))
    before = await _session(aredis)
    await line.send(line.postback("n=menu&p=0"))
    assert "cancel" in _quick_values(line.stub.delivered[-1].messages[-1])
    assert await _session(aredis) == before  # nothing committed


# --- what must be refused or ignored ----------------------------------------------------


async def test_empty_events_verify_gets_200(line: LineHarness) -> None:
    resp = await line.send()
    assert resp.status_code == 200
    assert line.stub.requests == []


@pytest.mark.parametrize("signature", [None, "", "bm90LWEtc2lnbmF0dXJl", "garbage!"])
async def test_bad_or_missing_signature_is_400_and_leaves_no_trace(
    line: LineHarness, aredis: aioredis.Redis, signature: str | None
) -> None:
    body = json.dumps({"events": [line.text("解約したい")]}, ensure_ascii=False).encode()
    resp = await line.post_raw(body, signature)
    assert resp.status_code == 400
    assert await aredis.dbsize() == 0
    assert line.stub.requests == []


async def test_signature_with_another_secret_is_refused(
    line: LineHarness, aredis: aioredis.Redis
) -> None:
    body = json.dumps({"events": [line.text("解約したい")]}, ensure_ascii=False).encode()
    resp = await line.post_raw(body, sign(body, secret="someone-elses-secret"))
    assert resp.status_code == 400
    assert await aredis.dbsize() == 0


@pytest.mark.parametrize("body", [b"{not json", b'{"events": {}}', b"[]", b"\xff\xfe"])
async def test_malformed_body_is_400(
    line: LineHarness, aredis: aioredis.Redis, body: bytes
) -> None:
    resp = await line.post_raw(body, sign(body))
    assert resp.status_code == 400
    assert await aredis.dbsize() == 0


async def test_unknown_event_types_are_acknowledged_and_ignored(
    line: LineHarness, aredis: aioredis.Redis
) -> None:
    resp = await line.send(
        line.event("somethingNewFromLine", whatever={"x": 1}),
        line.event("beacon", beacon={"hwid": "d41d8cd98f", "type": "enter"}),
        line.event("message", message={"type": "newKindOfMessage", "id": "9"}),
    )
    assert resp.status_code == 200
    assert line.stub.requests == []
    assert await aredis.dbsize() == 0


async def test_redelivered_event_is_answered_once(line: LineHarness) -> None:
    first = line.text("解約したい")
    again = dict(first, replyToken=line.stub.issue_reply_token())
    again["deliveryContext"] = {"isRedelivery": True}
    assert (await line.send(first)).status_code == 200
    assert (await line.send(again)).status_code == 200
    assert len(line.stub.delivered) == 1


# --- groups -----------------------------------------------------------------------------


def _mention_text(line: LineHarness, text: str, user: str, group: str) -> dict[str, Any]:
    mention = {"mentionees": [{"index": 0, "length": 5, "type": "user", "isSelf": True}]}
    return line.event(
        "message",
        user=user,
        group=group,
        message={"type": "text", "id": "3", "text": f"@bot {text}", "mention": mention},
    )


async def test_group_chatter_without_mention_is_ignored(
    line: LineHarness, aredis: aioredis.Redis
) -> None:
    others = {"mentionees": [{"index": 0, "length": 4, "type": "user", "userId": "U9"}]}
    resp = await line.send(
        line.text("解約したい", group="Cgroup1"),
        line.event(
            "message",
            group="Cgroup1",
            message={"type": "text", "id": "4", "text": "@Bob 解約したい", "mention": others},
        ),
        line.event("message", group="Cgroup1", message={"type": "sticker", "id": "5"}),
    )
    assert resp.status_code == 200
    assert line.stub.requests == []
    assert await aredis.dbsize() == 0


async def test_group_mention_is_answered_with_a_session_per_user(
    line: LineHarness, aredis: aioredis.Redis
) -> None:
    await line.send(_mention_text(line, "初期契約解除", "Ualice", "Cgroup1"))
    await line.send(_mention_text(line, "メニュー", "Ubob", "Cgroup1"))
    assert len(line.stub.delivered) == 2
    alice = await _session(aredis, "Ualice", "Cgroup1")
    bob = await _session(aredis, "Ubob", "Cgroup1")
    assert alice is not None and bob is not None
    assert alice.node != bob.node  # each member has their own place in the flow
    assert await _session(aredis, "Ualice") is None  # not mixed with a 1:1 chat


# --- LINE misbehaving -------------------------------------------------------------------


async def test_invalid_reply_token_falls_back_to_one_push(line: LineHarness) -> None:
    ev = line.text("解約したい", reply_token="expired-reply-token")
    resp = await line.send(ev)
    assert resp.status_code == 200
    (d,) = line.stub.delivered
    assert d.method == "push" and d.target == USER
    # The key is derived from the event, so any retry or redelivery reuses it.
    assert d.retry_key == retry_key(ev["webhookEventId"])
    assert uuid.UUID(d.retry_key or "").version == 5
    assert len(line.stub.calls("/v2/bot/message/reply")) == 1


async def test_push_fallback_retried_after_lost_answer_is_not_sent_twice(
    line: LineHarness,
) -> None:
    # LINE accepts the push but the answer is a 500 (as when a response is lost); the
    # retry with the same X-Line-Retry-Key gets 409 and the user sees one message.
    line.stub.accept_then_fail_pushes = 1
    ev = line.text("解約したい", reply_token="expired-reply-token")
    assert (await line.send(ev)).status_code == 200
    pushes = line.stub.calls("/v2/bot/message/push")
    assert [p.status for p in pushes] == [500, 409]
    assert len({p.headers["x-line-retry-key"] for p in pushes}) == 1
    assert len(line.stub.delivered) == 1


async def test_a_push_refused_for_load_is_retried_with_its_key_and_arrives_once(
    line: LineHarness,
) -> None:
    line.stub.fail_next("/v2/bot/message/push", 429)
    ev = line.text("解約したい", reply_token="expired-reply-token")
    assert (await line.send(ev)).status_code == 200
    assert len(line.stub.calls("/v2/bot/message/reply")) == 1  # a reply is never retried
    pushes = line.stub.calls("/v2/bot/message/push")
    assert [p.status for p in pushes] == [429, 200]
    assert {p.headers["x-line-retry-key"] for p in pushes} == {retry_key(ev["webhookEventId"])}
    (d,) = line.stub.delivered
    assert d.method == "push" and "解約" in _all_text(d.messages)


@pytest.mark.parametrize("status", [429, 500])
async def test_line_error_on_reply_is_logged_and_the_next_message_works(
    line: LineHarness, aredis: aioredis.Redis, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    line.stub.fail_next("/v2/bot/message/reply", status)
    with caplog.at_level(logging.WARNING, logger="iijbot.line"):
        resp = await line.send(line.postback("n=menu&v=initial"))
    assert resp.status_code == 200
    assert line.stub.delivered == []
    request_id = line.stub.calls("/v2/bot/message/reply")[0]
    assert request_id.status == status
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"status={status}" in logged and "x-line-request-id=" in logged
    assert "x-line-request-id=-" not in logged
    session = await _session(aredis)
    assert session is not None and session.node == "initial"  # the turn stayed committed

    await line.send(line.postback("n=initial&d=1", params={"date": "2026-06-20"}))
    assert "2026年6月27日(土)" in _all_text(line.stub.delivered[-1].messages)
    assert not line.stub.calls("/v2/bot/message/push")  # no blind resend after a 5xx


# --- loading animation and an unreachable store ------------------------------------------


async def test_slow_turn_shows_the_loading_animation_in_1to1_only(redis_url: str) -> None:
    # A zero threshold makes every turn "slow" without any timing in the test.
    async with line_harness(redis_url, NOW, loading_after=0.0) as h:
        await h.send(h.text("解約したい"))
        await h.send(_mention_text(h, "解約したい", "Ualice", "Cgroup1"))
        loading = h.stub.calls("/v2/bot/chat/loading/start")
        assert [c.body["chatId"] for c in loading] == [USER]
        assert len(h.stub.delivered) == 2


async def test_store_down_gets_a_polite_busy_reply_and_200() -> None:
    async with line_harness("redis://127.0.0.1:1/0", NOW) as h:
        resp = await h.send(h.text("解約したい"))
        assert resp.status_code == 200
        (d,) = h.stub.delivered
        (msg,) = d.messages
        assert msg["text"] == "ただいま混み合っています。少し時間をおいてもう一度お試しください。"
