"""`iijmio-bot worker` as real processes (issue 10): two of them on one Redis send each
due reminder exactly once; one killed with SIGKILL and a new one started later sends the
overdue reminder, once, with the late note; and on a Redis Cluster, reminders scheduled
through the real runner are claimed and pushed across the cluster's slots.

Each worker is its own OS process with only the environment an operator would give it:
REDIS_URL, the LINE token and API base (the stub LINE API, served in the test's loop).
`--interval 0.2` makes its rounds quick; nothing here depends on when a round runs.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from bots.reminders import book_for
from core.clock import JST, FixedClock
from core.dialogue import default_dialogue
from core.inbound import ConversationKey, Inbound, InboundKind
from core.remind.book import RedisReminderBook, Reminder
from core.remind.plan import end_of_day
from core.remind.service import Reminders
from core.store import RedisSessionStore, store_from_url
from core.store.base import reminders_key
from core.turn import TurnRunner
from tests.faults.conftest import StubLine
from tests.faults.outage import wait_for
from tests.faults.procs import RedisCluster, WorkerProcess
from tests.integration.line_stub import ACCESS_TOKEN, Recorded

pytestmark = pytest.mark.faults

DUE_INDEX = "iijbot:v1:{reminders}:due"
LATE = "予定の時刻より遅れてのお知らせです。"


METRICS_TOKEN = "worker-metrics-token-0123"


# The workers' clock starts here (`--now`), not at the wall's hour: between 21:00 and 8:00
# JST a due reminder rightly waits for the morning, which would hold these tests up. It
# runs on from there, so "due a minute ago" is still a real wait for the workers.
ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=JST)


def worker_env(stub_url: str, redis_url: str) -> dict[str, str]:
    # No channel secret: a worker receives no webhooks, it only pushes. The switch is "0"
    # as deploy/k8s/configmap.yaml ships it for the serve pods: the worker ignores it.
    return {
        "IIJBOT_REMINDER_WORKER": "0",
        "REDIS_URL": redis_url,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": stub_url,
        "IIJBOT_METRICS_TOKEN": METRICS_TOKEN,
        "LOG_LEVEL": "INFO",  # the worker's "started" line is how the test sees it is up
    }


def users(n: int) -> list[ConversationKey]:
    return [ConversationKey("line", "-", f"U{i:032x}") for i in range(n)]


def push_calls(stub: StubLine) -> list[Recorded]:
    return stub.stub.calls("/v2/bot/message/push")


def text_of(call: Recorded) -> str:
    return json.dumps(call.body["messages"], ensure_ascii=False)


async def seed(
    redis_url: str, keys: Iterable[ConversationKey], dues: list[datetime], deadline: datetime
) -> None:
    """Reminders stored as the runner stores them (the book), one per due time per key."""
    store = RedisSessionStore(redis_url)
    try:
        book = RedisReminderBook(store.client)
        now = ANCHOR
        for key in keys:
            await book.add(key, [Reminder("initial", deadline, due) for due in dues], now)
    finally:
        await store.close()


def due_left(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.zcard(DUE_INDEX))
    finally:
        client.close()


async def test_two_worker_processes_send_each_reminder_exactly_once(
    stub_line: StubLine, redis_url: str, tmp_path: Path
) -> None:
    env = worker_env(stub_line.url, redis_url)
    workers = [
        WorkerProcess(env, tmp_path, f"worker-{i}", metrics=True, now=ANCHOR) for i in range(2)
    ]
    await asyncio.gather(*(asyncio.to_thread(w.start) for w in workers))
    keys = users(40)
    now = ANCHOR
    try:
        # Stored while both already look every 0.2 s: they race for the same due index.
        await seed(
            redis_url,
            keys,
            [now - timedelta(minutes=2), now - timedelta(minutes=1)],
            end_of_day(now.date() + timedelta(days=2)),
        )
        await wait_for(lambda: len(push_calls(stub_line)) >= 2 * len(keys), "80 pushes")
        await wait_for(lambda: due_left(redis_url) == 0, "the due index to empty")
        # Each process counts what it sent, on its own /metrics (behind the token).
        sent = [await sent_by(stub_line, w) for w in workers]
        refused = await stub_line.http.get(workers[0].metrics_url)
    finally:
        codes = await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))
    assert codes == [0, 0], "a worker stops cleanly on SIGTERM"
    calls = push_calls(stub_line)
    # Exactly once: one push request per reminder (a repeat would show here even though
    # LINE's retry key would keep it from the customer), two per customer, all accepted.
    by_retry_key = Counter(c.headers["x-line-retry-key"] for c in calls)
    assert len(by_retry_key) == 2 * len(keys) and set(by_retry_key.values()) == {1}
    by_user = Counter(c.body["to"] for c in calls)
    assert by_user == {k.user: 2 for k in keys}
    assert {c.status for c in calls} == {200}
    assert not any(LATE in text_of(c) for c in calls), "a minute or two late is on time"
    assert sum(sent) == 2 * len(keys)
    assert refused.status_code == 401


async def sent_by(stub: StubLine, worker: WorkerProcess) -> float:
    """iijbot_reminders_total{platform="line",outcome="sent"} as this worker serves it."""
    got = await stub.http.get(
        worker.metrics_url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert got.status_code == 200
    for family in text_string_to_metric_families(got.text):
        for sample in family.samples:
            if sample.name == "iijbot_reminders_total" and sample.labels == {
                "platform": "line",
                "outcome": "sent",
            }:
                return sample.value
    return 0.0


async def test_a_worker_killed_and_a_new_one_started_later_sends_the_overdue_one_once(
    stub_line: StubLine, redis_url: str, tmp_path: Path
) -> None:
    env = worker_env(stub_line.url, redis_url)
    on_time, overdue = users(2)
    now = ANCHOR
    deadline = end_of_day(now.date() + timedelta(days=2))
    first = WorkerProcess(env, tmp_path, "first", now=ANCHOR)
    await asyncio.to_thread(first.start)
    await seed(redis_url, [on_time], [now - timedelta(minutes=1)], deadline)
    await wait_for(lambda: len(push_calls(stub_line)) == 1, "the first worker's push")
    await wait_for(lambda: due_left(redis_url) == 0, "the first worker to mark it sent")
    await asyncio.to_thread(first.kill)  # no shutdown: the process just ends

    # Due half an hour ago, while no worker ran.
    await seed(redis_url, [overdue], [now - timedelta(minutes=30)], deadline)
    second = WorkerProcess(env, tmp_path, "second", now=ANCHOR)
    await asyncio.to_thread(second.start)
    try:
        await wait_for(lambda: len(push_calls(stub_line)) >= 2, "the second worker's push")
        await wait_for(lambda: due_left(redis_url) == 0, "the second worker to mark it sent")
    finally:
        code = await asyncio.to_thread(second.stop)
    assert code == 0
    calls = push_calls(stub_line)
    assert [c.body["to"] for c in calls] == [on_time.user, overdue.user]
    assert LATE not in text_of(calls[0])
    assert LATE in text_of(calls[1])
    assert "初期契約解除" in text_of(calls[1])


async def schedule_through_the_runner(
    runner: TurnRunner, key: ConversationKey, bought: date
) -> None:
    """The customer's taps: 初期契約解除, the purchase date, then 「リマインドする」."""
    await runner.run(Inbound(key, InboundKind.CHOICE, choice_value="topic:initial"))
    out = await runner.run(Inbound(key, InboundKind.DATE, date=bought, choice_node="initial"))
    assert out.reply is not None
    remind = [c for c in out.reply.choices if c.label == "リマインドする"]
    assert remind, "the card offers リマインドする"
    await runner.run(Inbound(key, InboundKind.CHOICE, choice_value=remind[0].value, choice_node=""))


async def test_on_a_redis_cluster_the_worker_claims_and_sends_across_slots(
    stub_line: StubLine, tmp_path: Path
) -> None:
    cluster = RedisCluster(tmp_path)
    await asyncio.to_thread(cluster.start)
    now = ANCHOR
    # 初期契約解除 reminds at 9:00 the day before its last day and on it: pick the last day
    # so that the first of the two is due now and the deadline still ahead.
    last_day = now.date() + timedelta(days=1) if now.hour >= 9 else now.date()
    bought = last_day - timedelta(days=7)
    keys = users(12)
    store = store_from_url(cluster.url)
    worker = WorkerProcess(
        worker_env(stub_line.url, cluster.url), tmp_path, "cluster-worker", now=ANCHOR
    )
    try:
        # The customers scheduled them a week ago, on the day they bought.
        runner = TurnRunner(
            store,
            default_dialogue(),
            FixedClock(datetime.combine(bought, datetime.min.time(), JST) + timedelta(hours=10)),
            reminders=Reminders(book_for(store)),
        )
        for key in keys:
            await schedule_through_the_runner(runner, key, bought)
        await asyncio.to_thread(worker.start)
        await wait_for(lambda: len(push_calls(stub_line)) >= len(keys), "one push per customer")
    finally:
        await asyncio.to_thread(worker.stop)
        await store.close()
    try:
        calls = push_calls(stub_line)
        assert Counter(c.body["to"] for c in calls) == {k.user: 1 for k in keys}
        assert {c.status for c in calls} == {200}
        assert all("初期契約解除" in text_of(c) for c in calls)
        # The conversations' reminder hashes sit on different masters (one slot each, under
        # their own hash tag), the due index on one: the claim reached across them, and
        # each customer's second reminder (on the last day) is still waiting there.
        holders = set()
        left = 0
        for i, node in enumerate(cluster.nodes):
            client = node.client()
            try:
                for key in keys:
                    name = reminders_key(key)
                    if _served_here(client, name) and client.exists(name):
                        holders.add(i)
                if _served_here(client, DUE_INDEX):
                    left = int(client.zcard(DUE_INDEX))
            finally:
                client.close()
        assert len(holders) >= 2
        assert left == len(keys)
    finally:
        await asyncio.to_thread(cluster.stop)


def _served_here(client: redis.Redis, key: str) -> bool:
    """Whether this node serves key's slot (a plain client is answered MOVED elsewhere)."""
    try:
        client.type(key)
    except redis.exceptions.MovedError:
        return False
    return True
