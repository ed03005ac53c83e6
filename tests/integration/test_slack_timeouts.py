"""Every call to Slack has a real time limit (issue 8, edge 4).

slack_sdk ignores its own `timeout=` when it is given a shared aiohttp session, so a
hanging Slack API held every reply (1,000 DMs for 40 s in the load test) for as long as
aiohttp's 5-minute default."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from core.clock import JST
from tests.integration.slack_stub import running_bot

NOW = datetime(2026, 6, 10, 10, 0, tzinfo=JST)


def _dm(text: str, ts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": "D0ALICE",
        "user": "U0ALICE",
        "text": text,
        "ts": ts,
    }


async def test_a_hanging_slack_api_gives_up_in_time_and_the_next_message_works(
    redis_url: str,
) -> None:
    async with running_bot(redis_url, NOW, api_timeout=0.5) as env:
        env.stub.hang.add("chat.postMessage")
        assert (await env.slack.event(_dm("解約したい", "1700000001.000100"))).status_code == 200
        # The stub never answers; the bot must let go long before this.
        await asyncio.wait_for(env.idle(), 5)
        env.stub.hang.clear()
        await env.slack.event(_dm("メニュー", "1700000002.000100"))
        await asyncio.wait_for(env.idle(), 5)
        answered = [c for c in env.stub.of("chat.postMessage") if c.status == 200]
        assert len(answered) == 1 and answered[0].body["channel"] == "D0ALICE"
