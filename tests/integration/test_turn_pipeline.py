"""The turn pipeline against real Redis with the shipped dialogue and understanding."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import pytest

from core.clock import JST, FixedClock
from core.dialogue import default_dialogue
from core.dialogue.loader import load_texts
from core.inbound import ConversationKey, Inbound, InboundKind
from core.session import Session
from core.store import RedisSessionStore
from core.turn import TurnOutcome, TurnRunner

KEY = ConversationKey("line", "-", "Upipeline")
NOW = datetime(2026, 6, 20, 10, 0, tzinfo=JST)


def runner_for(store: RedisSessionStore, *, racing: int = 1) -> TurnRunner:
    # A turn loses the compare-and-swap only when another turn committed after its load,
    # and each of the other racing turns commits once: no turn can lose more than
    # racing - 1 times, so `racing` attempts always suffice, however slow the machine is.
    # (The default 8 attempts rely on the backoff timing; bench/ measures that, tests don't.)
    return TurnRunner(store, default_dialogue(), FixedClock(NOW), max_attempts=max(racing, 8))


def inbound(i: int, key: ConversationKey = KEY) -> Inbound:
    """Alternately 'ヘルプ' typed and the first menu button pressed."""
    if i % 2 == 0:
        return Inbound(key, InboundKind.TEXT, text="ヘルプ", event_id=f"evt-{i}")
    flow = default_dialogue().flow
    menu = flow.start_node
    return Inbound(
        key,
        InboundKind.CHOICE,
        choice_value=menu.choices[0].value,
        choice_node=menu.id,
        event_id=f"evt-{i}",
    )


def assert_each_committed_once(outcomes: list[TurnOutcome], n: int) -> None:
    assert all(not o.duplicate and o.reply is not None for o in outcomes)
    # Each turn saw its own committed version: none was lost or applied twice.
    assert sorted(o.version for o in outcomes) == list(range(1, n + 1))


async def stored(store: RedisSessionStore, key: ConversationKey = KEY) -> Session | None:
    return (await store.load(key)).session


async def test_fifty_concurrent_turns_on_one_conversation_all_commit_once(
    store: RedisSessionStore,
) -> None:
    runner = runner_for(store, racing=50)
    outcomes = await asyncio.gather(*(runner.run(inbound(i)) for i in range(50)))
    assert_each_committed_once(list(outcomes), 50)
    session = await stored(store)
    assert session is not None and session.version == 50
    # Every one of the 50 events is now known, so none of them can be answered twice.
    for i in range(50):
        assert (await store.load(KEY, f"evt-{i}")).duplicate


async def test_a_redelivered_event_is_acknowledged_without_a_second_answer(
    store: RedisSessionStore,
) -> None:
    runner = runner_for(store)
    first = await runner.run(inbound(1))
    assert first.reply is not None and not first.duplicate and first.version == 1
    before = await stored(store)
    replay = await runner.run(inbound(1))
    assert replay.duplicate
    assert replay.reply is None
    assert replay.version == 1
    assert await stored(store) == before
    # A new event in the same conversation is answered as usual.
    nxt = await runner.run(inbound(2))
    assert nxt.reply is not None and nxt.version == 2


async def test_concurrent_redeliveries_are_answered_exactly_once(store: RedisSessionStore) -> None:
    runner = runner_for(store)
    outcomes = await asyncio.gather(*(runner.run(inbound(7)) for _ in range(10)))
    answered = [o for o in outcomes if o.reply is not None]
    assert len(answered) == 1
    assert sum(o.duplicate for o in outcomes) == 9
    session = await stored(store)
    assert session is not None and session.version == 1


async def test_two_processes_sharing_redis_converge(redis_url: str) -> None:
    a = RedisSessionStore(redis_url, ttl=600)
    b = RedisSessionStore(redis_url, ttl=600)
    try:
        ra, rb = runner_for(a, racing=40), runner_for(b, racing=40)
        outcomes = await asyncio.gather(*((ra if i % 2 else rb).run(inbound(i)) for i in range(40)))
        assert_each_committed_once(list(outcomes), 40)
        for s in (a, b):
            session = await stored(s)
            assert session is not None and session.version == 40
    finally:
        await a.close()
        await b.close()


async def test_conversations_do_not_interfere(store: RedisSessionStore) -> None:
    runner = runner_for(store, racing=25)
    keys = [ConversationKey("slack", "T1", f"U{n}") for n in range(5)]
    outcomes = await asyncio.gather(*(runner.run(inbound(i, keys[i % 5])) for i in range(25)))
    assert all(o.reply is not None for o in outcomes)
    for k in keys:
        session = await stored(store, k)
        assert session is not None and session.version == 5


async def test_a_user_whose_session_expired_is_told_so(redis_url: str) -> None:
    # The first turn is kept for 1 s; the test waits until Redis has really dropped it
    # (not for a fixed time), then goes on with a long TTL, so a slow machine cannot
    # expire the later turns as well.
    short = RedisSessionStore(redis_url, ttl=1)
    store = RedisSessionStore(redis_url, ttl=600)
    expired_notice = load_texts()["expired"]
    try:
        first = await runner_for(short).run(inbound(0))
        assert first.reply is not None
        assert expired_notice not in first.reply.texts  # a brand-new user is not told that
        deadline = asyncio.get_running_loop().time() + 30  # a bound, not a timing
        while await stored(short) is not None:
            assert asyncio.get_running_loop().time() < deadline, "the session never expired"
            await asyncio.sleep(0.05)
        runner = runner_for(store)
        back = await runner.run(inbound(2))
        assert back.reply is not None
        assert any(expired_notice in t for t in back.reply.texts)
        after = await runner.run(inbound(4))
        assert after.reply is not None
        assert not any(expired_notice in t for t in after.reply.texts)
    finally:
        await short.close()
        await store.close()


async def test_forgetting_drops_the_session_and_no_timeout_notice_follows(
    store: RedisSessionStore,
) -> None:
    runner = runner_for(store)
    await runner.run(inbound(0))
    bye = await runner.run(Inbound(KEY, InboundKind.FORGET, event_id="unfollow"))
    assert bye.version == 0
    assert await stored(store) is None
    back = await runner.run(inbound(2))
    assert back.reply is not None and back.version == 1
    assert not any(load_texts()["expired"] in t for t in back.reply.texts)


async def test_typed_text_reaches_the_turn_log_only_when_asked(
    store: RedisSessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    typed = "解約したい090-1234-5678"
    with caplog.at_level(logging.INFO, logger="iijbot.turn"):
        await runner_for(store).run(Inbound(KEY, InboundKind.TEXT, text=typed))
        assert "turn outcome=ok" in caplog.text and typed not in caplog.text
        debugging = TurnRunner(store, default_dialogue(), FixedClock(NOW), log_text=True)
        await debugging.run(Inbound(KEY, InboundKind.TEXT, text=typed))
    assert typed in caplog.text


async def test_the_runner_answers_an_adapters_questions_without_a_turn(
    store: RedisSessionStore,
) -> None:
    runner = runner_for(store)
    assert await runner.pending(KEY) is None  # no conversation yet
    assert (await runner.expectation(KEY)).node == "menu"
    await runner.run(Inbound(KEY, InboundKind.CHOICE, choice_value="fees", choice_node="menu"))
    before = await stored(store)

    expect = await runner.expectation(KEY)
    assert expect.node == "fees" and "old" in [c.value for c in expect.choices]
    again = await runner.pending(KEY)
    assert again is not None and again.node == "fees" and again.choices
    menu = runner.menu(anywhere=True)
    assert menu.node == "menu" and "topic:cancel" in [c.value for c in menu.choices]
    assert await stored(store) == before  # asking changed nothing
