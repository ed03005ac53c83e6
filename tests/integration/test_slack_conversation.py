"""Conversations over Slack, end to end: signed HTTP in, real Redis, stub Slack API out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from core.clock import JST
from core.inbound import ConversationKey
from core.metrics import PLATFORM_API_ERRORS
from core.policy import format_date_ja, load_rules
from core.policy.calculators import minimum_period
from core.session import Session
from core.store.base import session_key
from tests.integration.slack_stub import (
    TEAM_ID,
    Env,
    all_text,
    button,
    buttons,
    datepicker,
    running_bot,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 22, 10, 0, tzinfo=JST)
ALICE = ConversationKey("slack", TEAM_ID, "U0ALICE")


@pytest.fixture
async def env(redis_url: str) -> AsyncIterator[Env]:
    async with running_bot(redis_url, NOW) as e:
        yield e


async def _session(aredis: aioredis.Redis, key: ConversationKey = ALICE) -> Session | None:
    raw = await aredis.get(session_key(key))
    return None if raw is None else Session.from_json(raw)


async def _menu(env: Env, url_name: str = "m") -> dict[str, Any]:
    resp = await env.slack.command("", url_name=url_name)
    assert resp.status_code == 200
    await env.idle()
    posted = [c for c in env.stub.of("response_url") if c.name == url_name]
    assert len(posted) == 1
    return posted[0].body


async def test_bare_command_shows_the_menu_ephemerally(env: Env, aredis: aioredis.Redis) -> None:
    resp = await env.slack.command("", url_name="start")
    # The ack is an empty 200: nothing is said in the channel on the user's behalf.
    assert resp.status_code == 200 and resp.text == ""
    await env.idle()
    [call] = env.stub.of("response_url")
    assert call.body["response_type"] == "ephemeral"
    assert call.body["replace_original"] is False
    assert call.body["text"]  # the notification / fallback text is always set
    labels = [b["text"]["text"] for b in buttons(call.body["blocks"])]
    assert "解約の手順" in labels and "最低利用期間" in labels
    session = await _session(aredis)
    assert session is not None and session.node == "menu"


async def test_command_with_a_topic_goes_straight_to_it(env: Env, aredis: aioredis.Redis) -> None:
    await env.slack.command("解約", url_name="topic")
    await env.idle()
    [call] = env.stub.of("response_url")
    assert call.body["response_type"] == "ephemeral"
    session = await _session(aredis)
    assert session is not None and session.node != "menu"
    assert session.history and session.history[0].node == "menu"


async def test_buttons_and_datepicker_reach_a_dated_answer(
    env: Env, aredis: aioredis.Redis
) -> None:
    menu = await _menu(env)
    click = env.slack.action_payload(button(menu["blocks"], "最低利用期間"), url_name="flow")
    assert (await env.slack.action(click)).status_code == 200
    await env.idle()
    asked = env.stub.of("response_url")[-1]
    assert asked.name == "flow" and asked.body["replace_original"] is True
    picker = datepicker(asked.body["blocks"])
    assert picker["initial_date"] == NOW.date().isoformat()

    start = date(2026, 6, 10)
    pick = env.slack.action_payload(picker, url_name="flow", selected_date=start.isoformat())
    assert (await env.slack.action(pick)).status_code == 200
    await env.idle()
    answer = env.stub.of("response_url")[-1]
    # The question message is replaced by the answer, not followed by a new one.
    assert answer.body["replace_original"] is True
    expected = minimum_period(start, NOW.date(), load_rules()).earliest_effective_cancellation
    text = all_text(answer.body)
    assert format_date_ja(expected) in text
    assert format_date_ja(start) in text
    assert "時点で確認した情報" in text
    header = [b for b in answer.body["blocks"] if b["type"] == "header"]
    assert header, "the answer card has a title"
    session = await _session(aredis)
    assert session is not None and start.isoformat() in dict(session.answers).values()


async def test_an_older_datepicker_does_not_fill_the_current_question(
    env: Env, aredis: aioredis.Redis
) -> None:
    menu = await _menu(env)
    await env.slack.action(env.slack.action_payload(button(menu["blocks"], "違約金・手数料")))
    await env.idle()
    plan = env.stub.of("response_url")[-1].body
    await env.slack.action(env.slack.action_payload(button(plan["blocks"], "旧プラン")))
    await env.idle()
    sim = env.stub.of("response_url")[-1].body
    await env.slack.action(env.slack.action_payload(button(sim["blocks"], "音声通話SIM")))
    await env.idle()
    start_picker = datepicker(env.stub.of("response_url")[-1].body["blocks"])  # 利用開始日
    await env.slack.action(env.slack.action_payload(start_picker, selected_date="2026-01-10"))
    await env.idle()
    datepicker(env.stub.of("response_url")[-1].body["blocks"])  # now the end date is asked

    # An older message's start-date picker, used again.
    await env.slack.action(env.slack.action_payload(start_picker, selected_date="2026-03-01"))
    await env.idle()
    again = env.stub.of("response_url")[-1].body
    assert "受付を終了しました" in all_text(again)
    datepicker(again["blocks"])  # the end date is asked again
    session = await _session(aredis)
    assert session is not None and session.node == "fees_end"
    assert session.answer("start_date") == "2026-01-10"
    assert session.answer("voice_end") is None


async def test_dm_and_mention_continue_the_same_conversation(
    env: Env, aredis: aioredis.Redis
) -> None:
    await _menu(env)
    await env.slack.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "D0ALICE",
            "user": "U0ALICE",
            "text": "最低利用期間",
            "ts": "1700000001.000100",
        }
    )
    await env.idle()
    [dm] = env.stub.of("chat.postMessage")
    assert dm.body["channel"] == "D0ALICE" and dm.body["text"]
    session = await _session(aredis)
    assert session is not None and session.node == "min_period"
    version = session.version

    await env.slack.event(
        {
            "type": "app_mention",
            "channel": "C0GENERAL",
            "channel_type": "channel",
            "user": "U0ALICE",
            "text": "<@UBOT0001> 2026年6月10日",
            "ts": "1700000002.000100",
        }
    )
    await env.idle()
    [mention] = env.stub.of("chat.postEphemeral")
    assert mention.body["user"] == "U0ALICE" and mention.body["channel"] == "C0GENERAL"
    after = await _session(aredis)
    # The date typed in the channel answered the question asked in the DM.
    assert after is not None and after.version == version + 1
    assert "2026-06-10" in dict(after.answers).values()


async def test_bots_own_message_and_edits_are_ignored(env: Env, aredis: aioredis.Redis) -> None:
    base = {"type": "message", "channel_type": "im", "channel": "D0ALICE", "ts": "1.2"}
    await env.slack.event({**base, "user": "UBOT0001", "bot_id": "BBOT0001", "text": "解約"})
    await env.slack.event({**base, "user": "U0ALICE", "subtype": "message_changed", "text": "x"})
    await env.slack.event({**base, "subtype": "bot_message", "bot_id": "B0OTHER", "text": "y"})
    await env.idle()
    assert env.stub.delivered() == []
    assert await _session(aredis) is None


async def test_store_outage_gets_a_polite_notice() -> None:
    # Nothing listens on port 1: every Redis call fails as in an outage.
    async with running_bot("redis://127.0.0.1:1/0", NOW) as down:
        resp = await down.slack.command("", url_name="down")
        assert resp.status_code == 200  # acknowledged before Redis is even tried
        await down.idle()
    [call] = down.stub.of("response_url")
    assert call.body["response_type"] == "ephemeral"
    assert "もう一度" in call.body["text"]
    assert "Traceback" not in all_text(call.body) and "Error" not in all_text(call.body)


async def test_slack_500_on_response_url_keeps_the_session_and_the_next_click_works(
    env: Env, aredis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    menu = await _menu(env)
    before = PLATFORM_API_ERRORS.labels("slack", "500")._value.get()
    env.stub.fail_next("response_url", 500)
    click = env.slack.action_payload(button(menu["blocks"], "最低利用期間"), url_name="m")
    await env.slack.action(click)
    await env.idle()
    assert env.stub.of("response_url")[-1].status == 500
    assert "method=response_url status=500" in caplog.text
    assert PLATFORM_API_ERRORS.labels("slack", "500")._value.get() == before + 1
    session = await _session(aredis)
    assert session is not None and session.node == "min_period"  # committed all the same

    # The user never saw the date question; they type the date and the bot goes on.
    await env.slack.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "D0ALICE",
            "user": "U0ALICE",
            "text": "2026/6/10",
            "ts": "1700000003.000100",
        }
    )
    await env.idle()
    dm = env.stub.of("chat.postMessage")[-1]
    assert dm.status == 200 and "2026年6月10日" in all_text(dm.body)


async def test_slack_429_on_post_message_is_logged_and_the_next_message_is_answered(
    env: Env, aredis: aioredis.Redis
) -> None:
    before = PLATFORM_API_ERRORS.labels("slack", "429")._value.get()
    env.stub.fail_next("chat.postMessage", 429, retry_after=1)
    dm = {"type": "message", "channel_type": "im", "channel": "D0ALICE", "user": "U0ALICE"}
    await env.slack.event({**dm, "text": "メニュー", "ts": "1.1"})
    await env.idle()
    assert env.stub.of("chat.postMessage")[-1].status == 429
    assert PLATFORM_API_ERRORS.labels("slack", "429")._value.get() == before + 1
    assert await _session(aredis) is not None
    await env.slack.event({**dm, "text": "最低利用期間", "ts": "1.2"})
    await env.idle()
    last = env.stub.of("chat.postMessage")[-1]
    assert last.status == 200 and datepicker(last.body["blocks"])


async def test_used_up_response_url_falls_back_to_the_dm(env: Env) -> None:
    menu = await _menu(env, url_name="once")  # 1st use of "once"
    help_button = button(menu["blocks"], "最低利用期間")
    for _ in range(4):  # uses 2–5: each click a new delivery (new action_ts)
        await env.slack.action(env.slack.action_payload(help_button, url_name="once"))
        await env.idle()
    await env.slack.action(env.slack.action_payload(help_button, url_name="once"))
    await env.idle()
    assert env.stub.of("response_url")[-1].status == 404
    opened = env.stub.of("conversations.open")
    assert opened and opened[-1].body["users"] == "U0ALICE"
    assert env.stub.of("chat.postMessage")[-1].body["channel"] == "DU0ALICE"


async def test_click_without_response_url_updates_the_message_in_place(env: Env) -> None:
    menu = await _menu(env)
    click = env.slack.action_payload(
        button(menu["blocks"], "最低利用期間"),
        url_name=None,
        container={"type": "message", "message_ts": "1700000009.000100", "channel_id": "D0ALICE"},
    )
    await env.slack.action(click)
    await env.idle()
    [update] = env.stub.of("chat.update")
    assert update.status == 200
    assert update.body["channel"] == "D0ALICE" and update.body["ts"] == "1700000009.000100"
    assert datepicker(update.body["blocks"])
