"""A turn that fails on a bug still answers the customer, on every platform.

The trigger is a session store with a bug for some conversations: a RedisSessionStore
(real Redis) whose load raises an exception no adapter expects. It stands in for the store
only; the adapters, the runner, the servers and the platform stubs are the real ones.
A stand-in, because no data in Redis reaches the generic path any more: a session key of
another type (WRONGTYPE) now reads as no session (tests/contract/test_store_contract.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.routing import Mount

from adapters.line.texts import say as line_say
from adapters.slack.texts import say as slack_say
from adapters.web.app import WebChat, web_routes
from adapters.web.guard import Origins
from adapters.web.texts import say as web_say
from core.clock import JST, FixedClock
from core.dialogue import default_dialogue
from core.inbound import ConversationKey
from core.store import RedisSessionStore
from core.store.base import Loaded
from core.turn import TurnRunner
from tests.integration.line_stub import line_harness
from tests.integration.slack_stub import AsgiServer, all_text, running_bot

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 22, 10, 0, tzinfo=JST)
# What the customer typed: it must never reach the log, not even with the exception.
SECRET_TEXT = "解約したい 秘密のメモ 090-1234-5678"


class StoreBug(Exception):
    """What a bug looks like to an adapter: no StoreUnavailable, no TurnConflict."""


class BuggyStore(RedisSessionStore):
    def __init__(self, url: str, broken: Callable[[ConversationKey], bool]) -> None:
        super().__init__(url)
        self._broken = broken

    async def load(self, key: ConversationKey, event_id: str | None = None) -> Loaded:
        if self._broken(key):
            raise StoreBug("load failed")
        return await super().load(key, event_id)


def errors(platform: str) -> float:
    value = REGISTRY.get_sample_value(
        "iijbot_turns_total", {"platform": platform, "outcome": "error"}
    )
    return value or 0.0


def assert_logged_without_text(caplog: pytest.LogCaptureFixture, logger: str) -> None:
    failed = [r for r in caplog.records if r.name == logger and r.exc_info]
    assert failed, "the bug was not logged"
    assert failed[0].exc_info is not None and failed[0].exc_info[0] is StoreBug
    assert "秘密のメモ" not in caplog.text and "090-1234-5678" not in caplog.text


@pytest.mark.parametrize("redelivery", [False, True])
async def test_line_a_failed_event_gets_an_apology_and_the_batch_goes_on(
    redis_url: str, caplog: pytest.LogCaptureFixture, redelivery: bool
) -> None:
    caplog.set_level(logging.INFO)
    store = BuggyStore(redis_url, lambda key: key.user == "U0BAD")
    runner = TurnRunner(store, default_dialogue(), FixedClock(NOW))
    before = errors("line")
    try:
        async with line_harness(redis_url, NOW, runner=runner, redelivery=redelivery) as line:
            first = line.text("こんにちは", user="U0GOOD")
            bad = line.text(SECRET_TEXT, user="U0BAD")
            last = line.text("解約したい", user="U0OTHER")
            resp = await line.send(first, bad, last)
            # 200 even with redelivery on: the same event would only meet the same bug.
            assert resp.status_code == 200
            by_token = {d.target: d for d in line.stub.delivered}
            assert set(by_token) == {first["replyToken"], bad["replyToken"], last["replyToken"]}
            assert [m["text"] for m in by_token[bad["replyToken"]].messages] == [line_say("failed")]
            for ok in (first, last):
                texts = str(by_token[ok["replyToken"]].messages)
                assert line_say("failed") not in texts and line_say("busy") not in texts
            assert line.stub.calls("/v2/bot/message/push") == []
    finally:
        await store.close()
    assert errors("line") == before + 1
    assert_logged_without_text(caplog, "iijbot.line")


async def test_slack_a_failed_turn_gets_an_apology_where_the_user_asked(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    store = BuggyStore(redis_url, lambda key: key.user == "U0BAD")
    before = errors("slack")
    async with running_bot(redis_url, NOW, store=store) as env:
        await env.slack.command(SECRET_TEXT, user="U0BAD", url_name="bad")
        await env.slack.command("解約したい", user="U0GOOD", url_name="good")
        await env.slack.event(
            {
                "type": "message",
                "channel_type": "im",
                "channel": "D0BAD",
                "user": "U0BAD",
                "text": SECRET_TEXT,
                "ts": "1700000001.000100",
            }
        )
        await env.idle()
        answers = {c.name: c.body for c in env.stub.of("response_url")}
        assert slack_say("failed") in all_text(answers["bad"])
        assert slack_say("failed") not in all_text(answers["good"])
        assert answers["good"].get("blocks")  # the real answer, with its buttons
        [dm] = env.stub.of("chat.postMessage")
        assert dm.body["channel"] == "D0BAD" and slack_say("failed") in all_text(dm.body)
    assert errors("slack") == before + 2
    assert_logged_without_text(caplog, "iijbot.slack")


async def test_web_a_failed_turn_is_a_json_500_with_the_apology_and_the_next_works(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    broken = {"on": True}
    store = BuggyStore(redis_url, lambda key: key.platform == "web" and broken["on"])
    runner = TurnRunner(store, default_dialogue(), FixedClock(NOW))
    chat = WebChat(
        runner=runner,
        secret="web-cookie-secret-0123456789abcdef",
        origins=Origins([]),
        session_ttl=600,
    )
    app = Starlette(routes=[Mount("/web", routes=web_routes(lambda _: chat, dev=False))])
    server = AsgiServer(app, path="/web/api/turn")
    await server.start()
    before = errors("web")
    try:
        async with httpx.AsyncClient(timeout=10, headers={"origin": server.base}) as http:
            resp = await http.post(server.url, json={"text": SECRET_TEXT})
            assert resp.status_code == 500
            assert resp.json() == {"error": "failed", "message": web_say("failed")}
            broken["on"] = False
            again = await http.post(server.url, json={"text": "解約したい"})
            assert again.status_code == 200 and again.json()["reply"] is not None
    finally:
        await server.stop()
        await store.close()
    assert errors("web") == before + 1
    assert_logged_without_text(caplog, "iijbot.web")
