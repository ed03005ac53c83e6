"""The edges of POST /slack/events: signatures, broken bodies, URL verification,
redeliveries and double clicks, App Home."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import urlencode

import pytest
import redis.asyncio as aioredis

from core.clock import JST
from core.session import Session
from tests.integration.slack_stub import (
    SIGNING_SECRET,
    Env,
    button,
    buttons,
    running_bot,
    sign,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 22, 10, 0, tzinfo=JST)
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def env(redis_url: str) -> AsyncIterator[Env]:
    async with running_bot(redis_url, NOW) as e:
        yield e


def _command_body(env: Env, text: str) -> bytes:
    form = {
        "team_id": "T0TEST",
        "user_id": "U0ALICE",
        "command": "/iijmio",
        "text": text,
        "response_url": env.stub.response_url("sig"),
        "trigger_id": "1.2.3",
    }
    return urlencode(form).encode()


async def _keys(aredis: aioredis.Redis) -> list[bytes]:
    return [k async for k in aredis.scan_iter("iijbot:*")]


async def test_bad_signature_is_401_and_nothing_is_stored(env: Env, aredis: aioredis.Redis) -> None:
    body = _command_body(env, "")
    forged = sign(body, int(time.time()), secret="not-the-secret")
    resp = await env.slack.post(body, FORM, headers=forged)
    assert resp.status_code == 401
    missing = await env.slack.post(body, FORM, headers={})
    assert missing.status_code == 401
    await env.idle()
    assert await _keys(aredis) == []
    assert env.stub.delivered() == []


async def test_stale_timestamp_is_401(env: Env, aredis: aioredis.Redis) -> None:
    body = _command_body(env, "")
    resp = await env.slack.post(body, FORM, timestamp=int(time.time()) - 6 * 60)
    assert resp.status_code == 401
    # Inside the window the very same request is fine.
    ok = await env.slack.post(body, FORM, timestamp=int(time.time()) - 4 * 60)
    assert ok.status_code == 200
    await env.idle()
    assert len(await _keys(aredis)) >= 1


async def test_body_changed_after_signing_is_401(env: Env) -> None:
    body = _command_body(env, "解約")
    headers = sign(body, int(time.time()))
    tampered = body.replace(b"%E8%A7%A3", b"%E8%A7%A4")
    resp = await env.slack.post(tampered, FORM, headers=headers)
    assert resp.status_code == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"payload=%7Bbroken", FORM),
        (b"\xff\xfe\xfa", FORM),
    ],
)
async def test_malformed_signed_body_is_a_400(env: Env, body: bytes, content_type: str) -> None:
    resp = await env.slack.post(body, content_type)
    assert resp.status_code == 400


async def test_url_verification_answers_the_challenge(env: Env) -> None:
    body = json.dumps(
        {
            "token": "x",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    ).encode()
    resp = await env.slack.post(body, "application/json")
    assert resp.status_code == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in resp.text


async def test_japanese_text_signed_byte_exact_reaches_the_topic(
    env: Env, aredis: aioredis.Redis
) -> None:
    # Slack signs the raw UTF-8 bytes; a verifier that re-encodes would reject this.
    resp = await env.slack.command("ＭＮＰで乗り換えたい　です")
    assert resp.status_code == 200
    await env.idle()
    [call] = env.stub.of("response_url")
    assert call.status == 200
    keys = await _keys(aredis)
    assert any(k.endswith(b":session") for k in keys)
    [raw] = [await aredis.get(k) for k in keys if k.endswith(b":session")]
    assert raw is not None and Session.from_json(raw).node == "mnp"


async def test_event_retry_with_the_same_event_id_is_answered_once(env: Env) -> None:
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": "D0ALICE",
        "user": "U0ALICE",
        "text": "解約したい",
        "ts": "1700000005.000100",
    }
    first = await env.slack.event(event, event_id="Ev0RETRY01")
    assert first.status_code == 200
    await env.idle()
    again = await env.slack.event(event, event_id="Ev0RETRY01", retry=1)
    assert again.status_code == 200  # acknowledged, so Slack stops retrying
    await env.idle()
    assert len(env.stub.of("chat.postMessage")) == 1


async def test_double_delivered_click_is_answered_once(env: Env) -> None:
    await env.slack.command("", url_name="menu")
    await env.idle()
    menu = env.stub.of("response_url")[-1].body
    click = env.slack.action_payload(
        button(menu["blocks"], "最低利用期間"), url_name="menu", action_ts="1700000123.456"
    )
    await env.slack.action(click)
    await env.slack.action(click)  # the same click delivered twice
    await env.idle()
    answers = [c for c in env.stub.of("response_url") if c.body.get("replace_original")]
    assert len(answers) == 1


async def test_link_button_click_is_acknowledged_and_ignored(
    env: Env, aredis: aioredis.Redis
) -> None:
    link = {
        "type": "button",
        "action_id": "iijbot:link:0",
        "text": {"type": "plain_text", "text": "公式ページ"},
    }
    resp = await env.slack.action(env.slack.action_payload(link, url_name="l"))
    assert resp.status_code == 200
    await env.idle()
    assert env.stub.delivered() == []
    assert await _keys(aredis) == []


async def test_app_home_opened_publishes_the_topics(env: Env) -> None:
    resp = await env.slack.event(
        {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"}
    )
    assert resp.status_code == 200
    await env.idle()
    [published] = env.stub.of("views.publish")
    assert published.status == 200 and published.body["user_id"] == "U0ALICE"
    view = published.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "home"
    labels = [b["text"]["text"] for b in buttons(view["blocks"])]
    assert "解約の手順" in labels

    # Opening the messages tab publishes nothing.
    await env.slack.event(
        {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "messages"}
    )
    await env.idle()
    assert len(env.stub.of("views.publish")) == 1


async def test_home_button_starts_the_topic_in_the_dm_even_mid_conversation(
    env: Env, aredis: aioredis.Redis
) -> None:
    await env.slack.event(
        {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"}
    )
    await env.slack.command("解約", url_name="c")  # a conversation is already under way
    await env.idle()
    view = env.stub.of("views.publish")[0].body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    click = env.slack.action_payload(
        button(view["blocks"], "最低利用期間"),
        url_name=None,
        container={"type": "view", "view_id": "V1"},
    )
    assert (await env.slack.action(click)).status_code == 200
    await env.idle()
    assert env.stub.of("conversations.open")[-1].body["users"] == "U0ALICE"
    dm = env.stub.of("chat.postMessage")[-1]
    assert dm.status == 200 and dm.body["channel"] == "DU0ALICE"
    # The min-period topic asks for a date, not "that question is closed".
    assert any(
        isinstance(b.get("accessory"), dict) and b["accessory"]["type"] == "datepicker"
        for b in dm.body["blocks"]
    )


async def test_signing_secret_is_never_logged(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.stub.fail_next("response_url", 500)
    await env.slack.command("")
    await env.idle()
    assert SIGNING_SECRET not in caplog.text and "xoxb-" not in caplog.text
