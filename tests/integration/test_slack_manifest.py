"""The Slack app manifest points Slack at the URL and command the bot actually serves."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from adapters.slack.app import COMMAND
from core.clock import JST
from tests.integration.slack_stub import running_bot

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack" / "manifest.yaml"
ROUTE = "/slack/events"


def _manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_request_url_is_the_one_route() -> None:
    m = _manifest()
    urls = [
        m["settings"]["event_subscriptions"]["request_url"],
        m["settings"]["interactivity"]["request_url"],
        *(c["url"] for c in m["features"]["slash_commands"]),
    ]
    for url in urls:
        parsed = urlparse(url)
        assert parsed.scheme == "https" and parsed.path == ROUTE, url
    assert m["settings"]["interactivity"]["is_enabled"] is True


def test_command_events_scopes_and_home_tab() -> None:
    m = _manifest()
    [command] = m["features"]["slash_commands"]
    assert command["command"] == COMMAND == "/iijmio"
    assert command["usage_hint"].strip()
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    assert events == {"app_home_opened", "app_mention", "message.im"}
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:history", "im:write", "app_mentions:read"} <= scopes
    assert "users:read" not in scopes  # least privilege: nothing we do needs it
    home = m["features"]["app_home"]
    assert home["home_tab_enabled"] is True and home["messages_tab_enabled"] is True


@pytest.mark.integration
async def test_every_subscribed_event_is_handled_not_404(redis_url: str) -> None:
    """Bolt answers 404 to an event nobody listens for; Slack would then retry it."""
    samples = {
        "app_home_opened": {"type": "app_home_opened", "user": "U0ALICE", "tab": "home"},
        "app_mention": {
            "type": "app_mention",
            "channel": "C0GENERAL",
            "user": "U0ALICE",
            "text": "<@UBOT0001> ヘルプ",
            "ts": "1.1",
        },
        "message.im": {
            "type": "message",
            "channel_type": "im",
            "channel": "D0ALICE",
            "user": "U0ALICE",
            "text": "ヘルプ",
            "ts": "1.2",
        },
    }
    events = _manifest()["settings"]["event_subscriptions"]["bot_events"]
    async with running_bot(redis_url, datetime(2026, 6, 22, 10, 0, tzinfo=JST)) as env:
        for name in events:
            resp = await env.slack.event(samples[name])
            assert resp.status_code == 200, name
        await env.idle()
        assert env.stub.of("views.publish") and env.stub.of("chat.postMessage")
        assert env.stub.of("chat.postEphemeral")
