"""The event stream, one behaviour on both stores: appended with the commit that it belongs
to, never for a turn that did not commit, trimmed by age, erased per conversation."""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from core.events import Outcome, TurnEvent, conversation_hash
from core.inbound import ConversationKey
from core.session import Session
from core.store import CommitStatus, RedisSessionStore
from core.store.base import DAY_MS, events_stream_key, reminders_key, session_key
from tests.contract.test_store_contract import Backend

KEY = ConversationKey("line", "-", "U123")
OTHER = ConversationKey("line", "-", "U999")
SECRET = b"test-hash-key"
# Half a year ago: trimming follows the events' time, but never runs ahead of the clock.
T0 = int(time.time() * 1000) - 200 * DAY_MS


def event(
    key: ConversationKey, ts: int, outcome: Outcome = Outcome.QUESTION, **kw: str
) -> TurnEvent:
    return TurnEvent(
        ts_ms=ts,
        platform=key.platform,
        conv=conversation_hash(key, SECRET),
        node_before=kw.get("before", "menu"),
        node_after=kw.get("after", "cancel"),
        outcome=outcome,
        topic=kw.get("topic", "cancel"),
        input=kw.get("input", "text"),
        intent=kw.get("intent", "topic"),
        text=kw.get("text", ""),
    )


def dropped() -> float:
    return REGISTRY.get_sample_value("iijbot_events_dropped_total", {"platform": "line"}) or 0.0


def session(node: str = "menu") -> Session:
    return Session(node=node, flow_version="f1")


async def test_a_committed_turn_leaves_its_event(backend: Backend) -> None:
    store = backend.make(60)
    ev = event(KEY, T0, Outcome.NOT_UNDERSTOOD, text="<電話番号>に電話して")
    assert await store.commit(KEY, session(), 0, "e1", event=ev) is CommitStatus.OK
    assert await store.read_events(T0 - 1) == [ev]


async def test_a_lost_or_repeated_commit_leaves_no_event(backend: Backend) -> None:
    store = backend.make(60)
    first = event(KEY, T0)
    assert await store.commit(KEY, session(), 0, "e1", event=first) is CommitStatus.OK
    conflict = event(KEY, T0 + 1, after="mnp")
    assert await store.commit(KEY, session(), 0, "e2", event=conflict) is CommitStatus.CONFLICT
    again = event(KEY, T0 + 2, after="fees")
    assert await store.commit(KEY, session(), 1, "e1", event=again) is CommitStatus.DUPLICATE
    assert await store.read_events(0) == [first]


async def test_text_is_kept_only_for_turns_not_understood(backend: Backend) -> None:
    store = backend.make(60)
    answered = event(KEY, T0, Outcome.ANSWERED, text="解約したい")
    await store.commit(KEY, session(), 0, event=answered)
    [stored] = await store.read_events(0)
    assert stored.text == ""
    assert stored.outcome is Outcome.ANSWERED


async def test_events_older_than_the_retention_are_trimmed(backend: Backend) -> None:
    store = backend.make(60)
    old = event(KEY, T0)
    await store.commit(KEY, session(), 0, event=old)
    await store.commit(KEY, session(), 1, event=event(KEY, T0 + 89 * DAY_MS))
    assert len(await store.read_events(0)) == 2
    # 91 days after the first: it is past the 90 days kept and is gone from the stream.
    late = event(KEY, T0 + 91 * DAY_MS)
    await store.commit(KEY, session(), 2, event=late)
    assert [e.ts_ms for e in await store.read_events(0)] == [T0 + 89 * DAY_MS, late.ts_ms]


async def test_an_event_dated_in_the_future_trims_nothing_of_today(backend: Backend) -> None:
    store = backend.make(60)
    now = int(time.time() * 1000)
    today = event(KEY, now)
    await store.commit(KEY, session(), 0, event=today)
    # A chat run with --now four years ahead: recorded, but today's events stay.
    ahead = event(OTHER, now + 4 * 365 * DAY_MS)
    await store.commit(OTHER, session(), 0, event=ahead)
    assert await store.read_events(now - 1) == [today, ahead]


async def test_read_events_returns_the_period_asked_for(backend: Backend) -> None:
    store = backend.make(60)
    for day in range(5):
        await store.commit(KEY, session(), day, event=event(KEY, T0 + day * DAY_MS))
    got = await store.read_events(T0 + DAY_MS, T0 + 3 * DAY_MS)
    assert [e.ts_ms for e in got] == [T0 + DAY_MS, T0 + 2 * DAY_MS]


async def test_erase_forgets_one_conversation_and_keeps_the_others(backend: Backend) -> None:
    store = backend.make(60)
    await store.commit(KEY, session(), 0, event=event(KEY, T0))
    await store.commit(OTHER, session(), 0, event=event(OTHER, T0 + 1))
    await store.commit(KEY, session("cancel"), 1, event=event(KEY, T0 + 2))
    assert await store.record(KEY, event(KEY, T0 + 3, Outcome.FEEDBACK_RESOLVED))
    await store.erase(KEY, conversation_hash(KEY, SECRET))
    loaded = await store.load(KEY)
    assert loaded.session is None and not loaded.expired
    remaining = await store.read_events(0)
    assert [e.conv for e in remaining] == [conversation_hash(OTHER, SECRET)]
    assert (await store.load(OTHER)).session is not None


async def test_events_written_outside_a_turn_are_read_back(backend: Backend) -> None:
    store = backend.make(60)
    handed = event(KEY, T0, Outcome.HANDOFF, input="choice", intent="choice")
    assert await store.record(KEY, handed)
    assert await store.read_events(T0) == [handed]


async def test_redis_erase_deletes_reminders_and_keeps_no_user_id_in_event_keys(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    store = RedisSessionStore(redis_url)
    await store.commit(KEY, session(), 0, event=event(KEY, T0))
    await aredis.set(reminders_key(KEY), "reserved")
    keys = [k.decode() for k in await aredis.keys("*")]
    assert all("U123" not in k for k in keys if "{events}" in k)
    entry = (await aredis.xrange(events_stream_key()))[0][1]
    assert b"U123" not in b"".join([*entry.keys(), *entry.values()])
    await store.erase(KEY, conversation_hash(KEY, SECRET))
    assert await aredis.exists(reminders_key(KEY), session_key(KEY)) == 0
    assert await aredis.xlen(events_stream_key()) == 0
    await store.close()


async def test_a_full_redis_drops_the_event_and_still_commits(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    # The stream key taken by a value of another type makes every XADD fail, as a stream
    # Redis refuses to grow would: the session must commit all the same.
    await aredis.set(events_stream_key(), "not a stream")
    store = RedisSessionStore(redis_url)
    before = dropped()
    status = await store.commit(KEY, session(), 0, "e1", event=event(KEY, T0))
    assert status is CommitStatus.OK
    assert (await store.load(KEY)).session is not None
    assert not await store.record(KEY, event(KEY, T0 + 1))
    assert dropped() == before + 2  # counted, so the team sees the report is short
    await store.close()


async def test_events_after_the_commit_as_on_redis_cluster(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    # On Redis Cluster the event keys sit in another slot: the event follows the commit in
    # a second script. Same result, and a lost or repeated commit still records nothing.
    store = RedisSessionStore(redis_url, events_in_commit=False)
    first = event(KEY, T0)
    assert await store.commit(KEY, session(), 0, "e1", event=first) is CommitStatus.OK
    assert await store.commit(KEY, session(), 0, "e2", event=event(KEY, T0 + 1)) is (
        CommitStatus.CONFLICT
    )
    assert await store.commit(KEY, session(), 1, "e1", event=event(KEY, T0 + 2)) is (
        CommitStatus.DUPLICATE
    )
    assert await store.read_events(0) == [first]
    await store.erase(KEY, conversation_hash(KEY, SECRET))
    assert await aredis.xlen(events_stream_key()) == 0
    await store.close()
