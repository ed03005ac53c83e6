"""How long one turn takes: the pure dialogue step, and a full TurnRunner.run against the
in-memory store and a real Redis. A script that prints figures, not a test.

    python bench/bench_turn.py [--turns 2000] [--redis redis://127.0.0.1:6379/0] [--no-redis]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.clock import JST, FixedClock
from core.dialogue import default_dialogue
from core.inbound import ConversationKey, Inbound, InboundKind
from core.intent import Intent
from core.session import Session
from core.store import MemorySessionStore, RedisSessionStore, SessionStore
from core.turn import TurnRunner

NOW = datetime(2026, 6, 20, 10, 0, tzinfo=JST)

# What a customer plausibly sends in one conversation: typed topics, commands, menu buttons,
# a typed date. The bench cycles through it for many users.
SCRIPT: tuple[str | None, ...] = (
    None,  # START (follow / bare slash command)
    "解約したい",
    "ヘルプ",
    "戻る",
    "MNPで他社に移りたい",
    "2026年6月25日",
    "メニュー",
    "オプションだけ解約できますか",
    "よくわからない",
    "最初から",
)


@dataclass(frozen=True)
class Figures:
    name: str
    samples: Sequence[float]

    def line(self) -> str:
        ms = sorted(s * 1000 for s in self.samples)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        return (
            f"{self.name:<28} n={len(ms):>6}  median={statistics.median(ms):8.3f} ms"
            f"  p95={p95:8.3f} ms  max={ms[-1]:8.3f} ms"
        )


def inbound_for(key: ConversationKey, step: int, text: str | None, event: str) -> Inbound:
    if text is None:
        return Inbound(key, InboundKind.START, event_id=event)
    return Inbound(key, InboundKind.TEXT, text=text, event_id=event)


async def sample_steps(n: int) -> list[tuple[Session | None, Intent, bool]]:
    """Real (session, intent) pairs as the runner would hand them to step."""
    store = MemorySessionStore()
    runner = TurnRunner(store, default_dialogue(), FixedClock(NOW))
    pairs: list[tuple[Session | None, Intent, bool]] = []
    user = 0
    while len(pairs) < n:
        key = ConversationKey("cli", "-", f"bench{user}")
        for i, text in enumerate(SCRIPT):
            loaded = await store.load(key)
            msg = inbound_for(key, i, text, f"s{user}-{i}")
            pairs.append((loaded.session, runner.intent_for(msg, loaded.session, NOW), False))
            await runner.run(msg)
        user += 1
    return pairs[:n]


def bench_understand(n: int) -> Figures:
    from core.nlu import understand

    dialogue = default_dialogue()
    today = NOW.date()
    texts = [t for t in SCRIPT if t is not None]
    expect = dialogue.expectation(None)
    out: list[float] = []
    for i in range(n):
        t0 = time.perf_counter()
        understand(texts[i % len(texts)], expect, today)
        out.append(time.perf_counter() - t0)
    return Figures("nlu.understand (pure)", out)


def bench_step(pairs: list[tuple[Session | None, Intent, bool]]) -> Figures:
    dialogue = default_dialogue()
    out: list[float] = []
    for session, intent, expired in pairs:
        t0 = time.perf_counter()
        dialogue.step(session, intent, NOW, expired=expired)
        out.append(time.perf_counter() - t0)
    return Figures("dialogue.step (pure)", out)


async def bench_runner(name: str, store: SessionStore, n: int) -> Figures:
    runner = TurnRunner(store, default_dialogue(), FixedClock(NOW))
    run_id = uuid.uuid4().hex[:8]
    out: list[float] = []
    user = 0
    while len(out) < n:
        key = ConversationKey("cli", "-", f"bench{run_id}-{user}")
        for i, text in enumerate(SCRIPT):
            msg = inbound_for(key, i, text, f"{run_id}-{user}-{i}")
            t0 = time.perf_counter()
            await runner.run(msg)
            out.append(time.perf_counter() - t0)
        user += 1
    return Figures(name, out[:n])


async def bench_concurrent(name: str, make: Callable[[], SessionStore], n: int) -> str:
    """n turns at once on one conversation: how the CAS retries cope (wall time, conflicts)."""
    from core.metrics import COMMIT_CONFLICTS

    store = make()
    try:
        runner = TurnRunner(store, default_dialogue(), FixedClock(NOW))
        key = ConversationKey("cli", "-", f"race{uuid.uuid4().hex[:8]}")
        before = COMMIT_CONFLICTS.labels("cli")._value.get()
        t0 = time.perf_counter()
        await asyncio.gather(
            *(
                runner.run(Inbound(key, InboundKind.TEXT, text="ヘルプ", event_id=f"r{i}"))
                for i in range(n)
            )
        )
        wall = (time.perf_counter() - t0) * 1000
        conflicts = COMMIT_CONFLICTS.labels("cli")._value.get() - before
        return f"{name:<28} {n} racing turns: wall={wall:8.1f} ms  conflicts re-run={conflicts:.0f}"
    finally:
        await store.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--turns", type=int, default=2000)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--no-redis", action="store_true")
    args = ap.parse_args()

    pairs = await sample_steps(args.turns)
    print(bench_step(pairs).line())
    print(bench_understand(args.turns).line())
    print((await bench_runner("TurnRunner.run / memory", MemorySessionStore(), args.turns)).line())
    print(await bench_concurrent("memory", MemorySessionStore, 50))
    if args.no_redis:
        return
    # A throwaway prefix in whatever db the URL names; every key written is removed after.
    prefix = f"iijbot-bench-{uuid.uuid4().hex[:8]}"
    store = RedisSessionStore(args.redis, ttl=600, prefix=prefix)
    try:
        if not await store.ping():
            print(f"Redis at {args.redis} does not answer; skipped the Redis figures")
            return
        print((await bench_runner("TurnRunner.run / redis", store, args.turns)).line())
        print(
            await bench_concurrent(
                "redis", lambda: RedisSessionStore(args.redis, ttl=600, prefix=prefix), 50
            )
        )
    finally:
        client = store.client
        async for k in client.scan_iter(match=f"{prefix}:*", count=500):
            await client.delete(k)
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
