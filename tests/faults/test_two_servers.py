"""Two `iijmio-bot serve` processes on one Redis: 1,000 turns over 50 conversations, each
conversation's messages landing on both servers at once, some LINE redeliveries racing
their original on the other server. No committed turn is lost, none is answered twice."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis

from core.inbound import ConversationKey
from core.store.base import session_key
from tests.faults.conftest import StubLine, line_env
from tests.faults.line_traffic import TEXTS, Traffic
from tests.faults.procs import BotProcess

pytestmark = pytest.mark.faults

CONVERSATIONS = 50
ROUNDS = 10  # two turns per round and conversation: 50 x 10 x 2 = 1,000 turns
# Rounds whose first event LINE also redelivers, racing the original on the other server.
# Each server then sees 11 events per conversation: one round each, one redelivery. The
# LINE adapter's flood control lets a conversation take 10 at once and earns one back a
# second; at serve's few hundred turns a second, 1,000 turns take seconds, so the 11th
# never finds the bucket empty and every event is a turn to answer.
REDELIVERED_ROUNDS = (4, 9)
IN_FLIGHT = 32  # webhook posts at once


def version(client: redis.Redis, user: str) -> int:
    raw = client.get(session_key(ConversationKey("line", "-", user)))
    assert raw is not None, f"{user} has no session"
    return int(json.loads(raw)["version"])


async def test_two_servers_on_one_redis_lose_no_turn_and_answer_each_event_once(
    redis_url: str, stub_line: StubLine, tmp_path: Path
) -> None:
    env = line_env(stub_line.url, redis_url)
    bots = [BotProcess(env, tmp_path, "a"), BotProcess(env, tmp_path, "b")]
    traffic = Traffic(stub_line.stub, stub_line.http)
    gate = asyncio.Semaphore(IN_FLIGHT)
    turns: list[dict[str, Any]] = []

    async def post(bot: BotProcess, event: dict[str, Any]) -> None:
        async with gate:
            await traffic.post(bot.url, event)

    async def conversation(c: int) -> None:
        user = f"U{c:032x}"
        for r in range(ROUNDS):
            first, second = (bots[0], bots[1]) if (c + r) % 2 else (bots[1], bots[0])
            one = traffic.event(user, TEXTS[(c + 2 * r) % len(TEXTS)])
            two = traffic.event(user, TEXTS[(c + 2 * r + 1) % len(TEXTS)])
            turns.extend((one, two))
            posts = [post(first, one), post(second, two)]
            if r in REDELIVERED_ROUNDS:
                again = {**one, "deliveryContext": {"isRedelivery": True}}
                posts.append(post(second, again))
            await asyncio.gather(*posts)

    try:
        await asyncio.gather(*(asyncio.to_thread(b.start) for b in bots))
        await asyncio.gather(*(conversation(c) for c in range(CONVERSATIONS)))
        tokens = {t["replyToken"] for t in turns}
        await traffic.wait_delivered(tokens)
        alive = [b.alive() for b in bots]
    finally:
        for b in bots:
            await asyncio.to_thread(b.stop)

    assert len(turns) == len(tokens) == CONVERSATIONS * ROUNDS * 2
    assert alive == [True, True]
    statuses = Counter(s.status for s in traffic.sent)
    assert statuses == {200: len(traffic.sent)}, statuses
    # Exactly one reply per event: a second would show as a second reply call with the
    # same (single-use) token, or as a push fallback.
    attempts = traffic.reply_attempts_by_token()
    assert set(attempts) == tokens
    assert [t for t, n in attempts.items() if n != 1] == []
    assert traffic.pushes() == 0
    busy = [t for t in tokens if traffic.is_busy(t)]
    assert busy == [], f"{len(busy)} turns got the busy notice"
    # No lost update: every answered turn advanced its conversation by exactly one version.
    client = redis.Redis.from_url(redis_url)
    try:
        by_user = Counter(t["source"]["userId"] for t in turns)
        versions = {user: version(client, user) for user in by_user}
    finally:
        client.close()
    assert versions == dict(by_user)
