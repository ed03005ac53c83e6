"""The bot on a real Redis Cluster, unchanged but for REDIS_URL=redis+cluster://….

Three `redis-server --cluster-enabled yes` on free ports, slots spread by
`redis-cli --cluster create`. Conversations spread over the masters; each conversation's
session, marker and event keys share one hash slot, which the Lua scripts need (a
cross-slot script is refused by the cluster, and would answer every turn "busy").
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import redis

from core.inbound import ConversationKey
from core.store.base import event_key, marker_key, session_key
from tests.faults.conftest import StubLine, line_env
from tests.faults.line_traffic import TEXTS, Traffic
from tests.faults.outage import assert_answered_once_and_whole, talk_through_outage
from tests.faults.procs import BotProcess, RedisCluster

pytestmark = pytest.mark.faults

USERS = 30
TURNS = 6
TAG = re.compile(rb"\{([^}]*)\}")


async def test_the_bot_runs_unchanged_on_a_redis_cluster_with_one_slot_per_conversation(
    stub_line: StubLine, tmp_path: Path
) -> None:
    cluster = RedisCluster(tmp_path)
    await asyncio.to_thread(cluster.start)
    bot = BotProcess(line_env(stub_line.url, cluster.url), tmp_path)
    traffic = Traffic(stub_line.stub, stub_line.http)
    users = [f"U{n:032x}" for n in range(USERS)]

    async def talk(i: int, user: str) -> None:
        for n in range(TURNS):
            await traffic.text(bot.url, user, TEXTS[(i + n) % len(TEXTS)])

    try:
        await asyncio.to_thread(bot.start)
        ready = (await stub_line.http.get(f"{bot.url}/readyz")).status_code
        await asyncio.gather(*(talk(i, u) for i, u in enumerate(users)))
        await traffic.wait_delivered({s.token for s in traffic.sent})
    finally:
        await asyncio.to_thread(bot.stop)

    try:
        assert ready == 200
        assert Counter(s.status for s in traffic.sent) == {200: USERS * TURNS}
        attempts = traffic.reply_attempts_by_token()
        assert sorted(attempts.values()) == [1] * (USERS * TURNS)
        busy = [s for s in traffic.sent if traffic.is_busy(s.token)]
        assert busy == [], f"{len(busy)} turns answered busy on the cluster"

        # Where every key landed: node -> keys; and each conversation's slots.
        holders: dict[bytes, set[int]] = defaultdict(set)
        slots: dict[bytes, set[int]] = defaultdict(set)
        for i, node in enumerate(cluster.nodes):
            client = node.client()
            try:
                for key_name in client.keys("*"):
                    assert isinstance(key_name, bytes)  # no decode_responses
                    raw_key = key_name
                    m = TAG.search(raw_key)
                    assert m is not None, f"{raw_key!r} has no hash tag"
                    holders[m.group(1)].add(i)
                    slots[m.group(1)].add(int(client.cluster("keyslot", raw_key)))
                    if raw_key.endswith(b":session"):
                        assert json.loads(client.get(raw_key) or b"{}")["version"] == TURNS
            finally:
                client.close()
        tags = {ConversationKey("line", "-", u).tag.encode() for u in users}
        assert set(holders) == tags
        assert all(len(nodes) == 1 for nodes in holders.values())
        assert all(len(s) == 1 for s in slots.values())
        # The cluster is really used: conversations sit on more than one master.
        assert len({next(iter(n)) for n in holders.values()}) >= 2

        # Each conversation has its session, its marker and one event key per turn.
        for user in users:
            key = ConversationKey("line", "-", user)
            node = cluster.nodes[next(iter(holders[key.tag.encode()]))]
            client = node.client()
            try:
                assert client.exists(session_key(key), marker_key(key)) == 2
                mine = [s.event_id for s in traffic.sent if s.user == user]
                assert client.exists(*(event_key(key, e) for e in mine)) == TURNS
            finally:
                client.close()
    finally:
        await asyncio.to_thread(cluster.stop)


async def test_a_cluster_master_killed_and_restarted_costs_busy_notices_not_a_bot_restart(
    stub_line: StubLine, tmp_path: Path
) -> None:
    # Without replicas a dead master's slots are gone until it returns (the cluster then
    # refuses every slot: cluster-require-full-coverage); with its AOF and nodes.conf it
    # rejoins on the same port, and the bot's cluster client must find it again by itself.
    cluster = RedisCluster(tmp_path, aof=True)
    await asyncio.to_thread(cluster.start)
    bot = BotProcess(line_env(stub_line.url, cluster.url), tmp_path)
    traffic = Traffic(stub_line.stub, stub_line.http)
    users = [f"U{n:032x}" for n in range(12)]
    victim = cluster.nodes[0]

    def heal() -> None:
        victim.start()
        cluster.wait_healthy()

    try:
        await asyncio.to_thread(bot.start)
        through = await talk_through_outage(bot, traffic, users, victim.kill, heal)
    finally:
        await asyncio.to_thread(bot.stop)

    reader = redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[1].port)
    try:
        assert not through.restarted, "the bot had to be restarted"
        assert through.ready_after == 200
        assert_answered_once_and_whole(
            traffic, users, lambda u: reader.get(session_key(ConversationKey("line", "-", u)))
        )
    finally:
        reader.close()
        await asyncio.to_thread(cluster.stop)
