"""One behaviour, two stores: every case runs against the in-memory store and a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from core.inbound import ConversationKey
from core.session import Frame, Session
from core.store import (
    CommitStatus,
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
    store_from_url,
)
from core.store.base import EVENT_TTL, event_key, marker_key, session_key

KEY = ConversationKey("line", "-", "U123")
OTHER = ConversationKey("slack", "T1", "U123")


@dataclass
class Backend:
    name: str
    make: Callable[[int], SessionStore]
    # Lets time pass: the memory store's clock jumps, Redis is really waited for.
    advance: Callable[[float], Awaitable[None]]


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    made: list[SessionStore] = []
    if request.param == "memory":
        clock = FakeClock()

        def make(ttl: int) -> SessionStore:
            made.append(MemorySessionStore(ttl=ttl, clock=clock))
            return made[-1]

        async def advance(seconds: float) -> None:
            clock.t += seconds

    else:
        url: str = request.getfixturevalue("redis_url")

        def make(ttl: int) -> SessionStore:
            made.append(RedisSessionStore(url, ttl=ttl))
            return made[-1]

        async def advance(seconds: float) -> None:
            await asyncio.sleep(seconds)

    yield Backend(request.param, make, advance)
    for store in made:
        await store.close()


def menu_session(**answers: str) -> Session:
    return Session(node="menu", flow_version="f1").with_answers(**answers)


async def test_empty_load_has_no_session(backend: Backend) -> None:
    store = backend.make(60)
    loaded = await store.load(KEY, "e1")
    assert loaded.session is None
    assert loaded.version == 0
    assert not loaded.expired
    assert not loaded.duplicate
    assert await store.ping()


async def test_commit_then_load_returns_the_session_at_version_one(backend: Backend) -> None:
    store = backend.make(60)
    session = Session(
        node="mnp_date",
        answers=(("topic", "mnp"),),
        history=(Frame("menu"), Frame("mnp", (("topic", "mnp"),))),
        no_match=1,
        flow_version="f1",
        pending=("cancel", "mnp"),
    )
    assert await store.commit(KEY, session, 0, "e1") == CommitStatus.OK
    loaded = await store.load(KEY)
    assert loaded.version == 1
    assert loaded.session is not None
    assert loaded.session.version == 1
    assert loaded.session == replace(session, version=1)
    assert not loaded.expired
    # Other conversations are untouched.
    assert (await store.load(OTHER)).session is None


async def test_versions_count_commits(backend: Backend) -> None:
    store = backend.make(60)
    for expected in range(5):
        assert await store.commit(KEY, menu_session(n=str(expected)), expected) == CommitStatus.OK
    loaded = await store.load(KEY)
    assert loaded.version == 5
    assert loaded.session is not None and loaded.session.answer("n") == "4"


async def test_stale_version_conflicts_and_does_not_write(backend: Backend) -> None:
    store = backend.make(60)
    await store.commit(KEY, menu_session(step="first"), 0)
    await store.commit(KEY, menu_session(step="second"), 1)
    assert await store.commit(KEY, menu_session(step="stale"), 1, "late") == CommitStatus.CONFLICT
    assert await store.commit(KEY, menu_session(step="new?"), 0) == CommitStatus.CONFLICT
    loaded = await store.load(KEY, "late")
    assert loaded.version == 2
    assert loaded.session is not None and loaded.session.answer("step") == "second"
    # A conflicting commit does not record its event: the re-run must be able to commit it.
    assert not loaded.duplicate


async def test_only_one_of_many_racing_commits_wins(backend: Backend) -> None:
    store = backend.make(60)
    results = await asyncio.gather(
        *(store.commit(KEY, menu_session(who=str(i)), 0, f"e{i}") for i in range(20))
    )
    assert results.count(CommitStatus.OK) == 1
    assert results.count(CommitStatus.CONFLICT) == 19
    assert (await store.load(KEY)).version == 1


async def test_duplicate_event_is_reported_and_not_written(backend: Backend) -> None:
    store = backend.make(60)
    assert await store.commit(KEY, menu_session(step="one"), 0, "evt-1") == CommitStatus.OK
    again = await store.commit(KEY, menu_session(step="replayed"), 1, "evt-1")
    assert again == CommitStatus.DUPLICATE
    loaded = await store.load(KEY)
    assert loaded.version == 1
    assert loaded.session is not None and loaded.session.answer("step") == "one"
    # The same event id in another conversation is a different event.
    assert await store.commit(OTHER, menu_session(), 0, "evt-1") == CommitStatus.OK


async def test_load_flags_an_already_committed_event(backend: Backend) -> None:
    store = backend.make(60)
    await store.commit(KEY, menu_session(), 0, "evt-1")
    assert (await store.load(KEY, "evt-1")).duplicate
    assert not (await store.load(KEY, "evt-2")).duplicate
    assert not (await store.load(KEY)).duplicate


async def test_event_ids_are_remembered_for_event_ttl_then_forgotten(backend: Backend) -> None:
    store = backend.make(EVENT_TTL * 10)
    await store.commit(KEY, menu_session(), 0, "evt-1")
    if backend.name == "redis":
        # An hour cannot be waited for in a test; the key's own TTL is the same promise.
        assert isinstance(store, RedisSessionStore)
        ttl = await store.client.ttl(event_key(KEY, "evt-1"))
        assert 0 < ttl <= EVENT_TTL
        return
    await backend.advance(EVENT_TTL - 1)
    assert (await store.load(KEY, "evt-1")).duplicate
    await backend.advance(2)
    assert not (await store.load(KEY, "evt-1")).duplicate
    assert await store.commit(KEY, menu_session(), 1, "evt-1") == CommitStatus.OK


async def test_an_event_remembered_outside_a_turn_loads_as_duplicate(backend: Backend) -> None:
    # A reminder button answers without a commit; its redelivery must still be known.
    store = backend.make(60)
    await store.commit(KEY, menu_session(), 0, "e0")
    await store.remember(KEY, "tap-1")
    again = await store.load(KEY, "tap-1")
    assert again.duplicate and again.version == 1  # the session is untouched
    assert not (await store.load(OTHER, "tap-1")).duplicate
    assert await store.commit(KEY, menu_session(), 1, "tap-1") is CommitStatus.DUPLICATE


async def test_forgetting_deletes_the_session_without_an_expiry_notice(backend: Backend) -> None:
    store = backend.make(60)
    await store.commit(KEY, menu_session(), 0, "e1")
    assert await store.commit(KEY, None, 1, "bye") == CommitStatus.OK
    loaded = await store.load(KEY, "bye")
    assert loaded.session is None
    assert loaded.version == 0
    assert not loaded.expired
    assert loaded.duplicate  # the forgetting event itself is recorded
    assert await store.commit(KEY, None, 0, "bye") == CommitStatus.DUPLICATE


async def test_idle_session_expires_and_the_user_can_be_told(backend: Backend) -> None:
    store = backend.make(1)
    await store.commit(KEY, menu_session(), 0)
    await backend.advance(1.5)
    loaded = await store.load(KEY)
    assert loaded.session is None
    assert loaded.version == 0
    assert loaded.expired
    assert await store.commit(KEY, menu_session(), 0) == CommitStatus.OK
    again = await store.load(KEY)
    assert again.session is not None
    assert not again.expired


async def test_ttl_slides_with_every_commit(backend: Backend) -> None:
    store = backend.make(2)
    await store.commit(KEY, menu_session(), 0)
    await backend.advance(1.2)
    await store.commit(KEY, menu_session(), 1)
    await backend.advance(1.2)  # 2.4 s after the first commit, 1.2 s after the last
    loaded = await store.load(KEY)
    assert loaded.session is not None
    assert loaded.version == 2
    await backend.advance(1.5)
    assert (await store.load(KEY)).expired


async def test_japanese_text_round_trips(backend: Backend) -> None:
    store = backend.make(60)
    session = menu_session(memo="解約日は2026年11月30日(月)「MNP予約番号」🙂", carrier="ドコモ")
    await store.commit(KEY, session, 0)
    loaded = await store.load(KEY)
    assert loaded.session is not None
    assert loaded.session.answer("memo") == "解約日は2026年11月30日(月)「MNP予約番号」🙂"
    assert loaded.session.answer("carrier") == "ドコモ"


async def test_redis_key_layout_is_the_documented_one(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    store = RedisSessionStore(redis_url, ttl=60)
    try:
        await store.commit(KEY, menu_session(), 0, "Ev1")
        keys = sorted(k.decode() if isinstance(k, bytes) else k for k in await aredis.keys("*"))
        assert keys == [
            "iijbot:v1:{line:-:U123}:evt:Ev1",
            "iijbot:v1:{line:-:U123}:seen",
            "iijbot:v1:{line:-:U123}:session",
        ]
        raw = await aredis.get("iijbot:v1:{line:-:U123}:session")
        assert raw is not None
        assert Session.from_json(raw).version == 1
        # Stored as readable UTF-8 JSON, not \\u escapes.
        await store.commit(KEY, menu_session(carrier="ドコモ"), 1)
        raw = await aredis.get("iijbot:v1:{line:-:U123}:session")
        assert isinstance(raw, bytes) and "ドコモ".encode() in raw
        assert 0 < await aredis.ttl("iijbot:v1:{line:-:U123}:session") <= 60
    finally:
        await store.close()


async def test_prefix_is_configurable(redis_url: str, aredis: aioredis.Redis) -> None:
    store = RedisSessionStore(redis_url, ttl=60, prefix="staging:v1")
    try:
        await store.commit(KEY, menu_session(), 0)
        assert await aredis.exists("staging:v1:{line:-:U123}:session") == 1
        assert await aredis.exists("iijbot:v1:{line:-:U123}:session") == 0
    finally:
        await store.close()


async def test_a_session_key_of_another_type_reads_as_no_session_and_is_replaced(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    """Something else wrote a hash where our session lives: that user must not fail on every
    message until someone deletes the key. It reads like an unreadable session (a fresh
    start), and the next commit overwrites it with a session."""
    store = RedisSessionStore(redis_url, ttl=60)
    try:
        await aredis.hset(session_key(KEY), mapping={"node": "menu"})
        first = await store.load(KEY, "Ev1")
        assert first.session is None and first.version == 0 and not first.duplicate
        assert await store.commit(KEY, menu_session(), first.version, "Ev1") is CommitStatus.OK
        again = await store.load(KEY)
        assert again.session is not None and again.version == 1
        assert await aredis.type(session_key(KEY)) in (b"string", "string")
    finally:
        await store.close()


def test_keys_of_one_conversation_share_a_cluster_slot() -> None:
    slots = {
        key_slot(k.encode())
        for k in (session_key(KEY), marker_key(KEY), event_key(KEY, "a"), event_key(KEY, "zz9"))
    }
    assert len(slots) == 1
    # ...and only because of the hash tag: the plain strings would scatter.
    assert key_slot(b"iijbot:v1:line:-:U123:session") != key_slot(b"iijbot:v1:line:-:U123:seen")


async def test_store_from_url_picks_the_backend(redis_url: str) -> None:
    assert isinstance(store_from_url(None), MemorySessionStore)
    assert isinstance(store_from_url(""), MemorySessionStore)
    store = store_from_url(redis_url, ttl=60)
    try:
        assert isinstance(store, RedisSessionStore)
        assert await store.ping()
        assert await store.commit(KEY, menu_session(), 0) == CommitStatus.OK
    finally:
        await store.close()
    sentinel = store_from_url("redis+sentinel://:pw@127.0.0.1:26379,10.0.0.2:26379/mymaster/2")
    assert isinstance(sentinel, RedisSessionStore)
    assert type(sentinel.client).__name__ == "Redis"
    cluster = store_from_url("redis+cluster://127.0.0.1:7000,127.0.0.1:7001")
    assert isinstance(cluster, RedisSessionStore)
    assert type(cluster.client).__name__ == "RedisCluster"
    for bad in ("http://example.com", "redis+sentinel://127.0.0.1:26379", "nonsense"):
        with pytest.raises(ValueError):
            store_from_url(bad)
