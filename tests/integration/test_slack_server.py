"""The Slack adapter as the real server mounts it: bots.server.create_app from settings."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import pytest

from bots.server import create_app
from bots.settings import Settings, SlackSettings
from core.clock import JST, FixedClock
from tests.integration.slack_stub import (
    BOT_TOKEN,
    SIGNING_SECRET,
    AsgiServer,
    SlackClient,
    SlackStub,
    buttons,
)

pytestmark = pytest.mark.integration


async def test_create_app_mounts_slack_and_answers_the_command(redis_url: str) -> None:
    stub = SlackStub(token=BOT_TOKEN)
    await stub.start()
    settings = Settings(
        redis_url=redis_url,
        metrics_token="metrics-token-slack-1",
        slack=SlackSettings(
            signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, api_url=stub.api_url
        ),
    )
    app = create_app(settings, clock=FixedClock(datetime(2026, 6, 22, 10, 0, tzinfo=JST)))
    server = AsgiServer(app, lifespan="on")
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            slack = SlackClient(http, server.url, stub)
            resp = await slack.command("", url_name="viaserver")
            assert resp.status_code == 200
            await stub.wait_for(lambda: bool(stub.of("response_url")))
            [call] = stub.of("response_url")
            assert call.body["response_type"] == "ephemeral" and buttons(call.body["blocks"])

            forged = await slack.post(
                b"command=%2Fiijmio",
                "application/x-www-form-urlencoded",
                headers={
                    "X-Slack-Request-Timestamp": str(int(time.time())),
                    "X-Slack-Signature": "v0=00",
                },
            )
            assert forged.status_code == 401
            scrape = {"Authorization": "Bearer metrics-token-slack-1"}
            metrics = (await http.get(server.base + "/metrics", headers=scrape)).text
            assert 'iijbot_webhook_requests_total{platform="slack",result="bad_signature"}' in (
                metrics
            )
    finally:
        await server.stop()
        await stub.stop()
