"""A slow or hung LINE API must not cost a committed answer (issue 8, edge 3).

The SDK's client we used before had 5 × CPU connections and a 10 s timeout that included
the wait for one: with replies taking 2 s, 100 concurrent events left 40 users without
an answer although their turn was committed."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

from adapters.line.send import ApiLimits, retry_key
from core.clock import JST
from tests.integration.line_stub import line_harness

NOW = datetime(2026, 6, 10, 10, 0, tzinfo=JST)


async def test_slow_reply_api_under_load_answers_every_user_exactly_once(
    redis_url: str,
) -> None:
    async with line_harness(redis_url, NOW) as h:
        h.stub.reply_delay = 2.0
        events = [h.text("解約したい", user=f"U{i:04d}") for i in range(100)]
        answers = await asyncio.gather(*(h.send(ev) for ev in events))
        assert all(a.status_code == 200 for a in answers)
        token_user = {ev["replyToken"]: ev["source"]["userId"] for ev in events}
        got = Counter(
            token_user[d.target] if d.method == "reply" else d.target for d in h.stub.delivered
        )
        assert got == Counter({ev["source"]["userId"]: 1 for ev in events})


async def test_a_reply_that_gets_no_answer_reaches_the_user_by_push_once(
    redis_url: str,
) -> None:
    # The request limit (not the wait for a connection) runs out while LINE hangs.
    limits = ApiLimits(request_timeout=0.3)
    async with line_harness(redis_url, NOW, api_limits=limits) as h:
        h.stub.stall_replies = 1
        ev = h.text("解約したい")
        assert (await h.send(ev)).status_code == 200
        (d,) = h.stub.delivered
        assert d.method == "push" and d.target == ev["source"]["userId"]
        assert d.retry_key == retry_key(ev["webhookEventId"])
        assert "解約" in str(d.messages)
