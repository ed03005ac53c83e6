"""Users talking to one `serve` through a store outage, and what must hold afterwards.

Shared by the single-Redis and the Cluster fault tests: the outage itself (`cause`) and
its end (`heal`) are theirs; the traffic, the bounded waits and the checks are here.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from core.session import Session
from tests.faults.line_traffic import TEXTS, Sent, Traffic
from tests.faults.procs import BotProcess

BUSY_DURING_OUTAGE = 12  # busy notices seen before the store is brought back
TURNS_AFTER = 3  # answered turns each user must get after the outage
BOUND = 120.0  # seconds for any one phase: a hang fails the test, it is never timed
# Seconds at least between one user's messages: a person's pace, and under the LINE
# adapter's flood control (one turn a second after a burst), so every message is a turn.
PACE = 1.1


@dataclass(frozen=True)
class Through:
    restarted: bool  # the bot process had to be replaced (it never should)
    ready_during: int  # /readyz while the store was away
    ready_after: int


async def wait_for(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def talk_through_outage(
    bot: BotProcess,
    traffic: Traffic,
    users: list[str],
    cause: Callable[[], None],
    heal: Callable[[], None],
) -> Through:
    """Every user talks without pause; the store fails (cause) once all have been answered,
    and comes back (heal) once the outage cost BUSY_DURING_OUTAGE busy notices. Returns
    when every user has been answered TURNS_AFTER times since, and every reply is in."""
    stop = asyncio.Event()
    healed = asyncio.Event()
    after: list[Sent] = []

    async def talk(i: int, user: str) -> None:
        n = 0
        while not stop.is_set():
            await traffic.text(bot.url, user, TEXTS[(i + n) % len(TEXTS)])
            if healed.is_set():
                after.append(traffic.sent[-1])
            n += 1
            await asyncio.sleep(PACE)

    def busy_count() -> int:
        delivered = set(traffic.replies_by_token())
        return sum(1 for s in traffic.sent if s.token in delivered and traffic.is_busy(s.token))

    def answered_after() -> bool:
        delivered = set(traffic.replies_by_token())
        ok = Counter(s.user for s in after if s.token in delivered and not traffic.is_busy(s.token))
        return all(ok[u] >= TURNS_AFTER for u in users)

    def answered_once() -> bool:
        delivered = set(traffic.replies_by_token())
        return {s.user for s in traffic.sent if s.token in delivered} == set(users)

    assert bot.proc is not None
    pid = bot.proc.pid
    talkers = [asyncio.create_task(talk(i, u)) for i, u in enumerate(users)]
    try:
        await wait_for(answered_once, "every user's first answer")
        await asyncio.to_thread(cause)
        busy_before = busy_count()
        await wait_for(lambda: busy_count() >= busy_before + BUSY_DURING_OUTAGE, "busy notices")
        ready_during = (await traffic.http.get(f"{bot.url}/readyz")).status_code
        await asyncio.to_thread(heal)
        healed.set()
        await wait_for(answered_after, f"every user answered {TURNS_AFTER} times again")
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*talkers, return_exceptions=True), BOUND)
    await traffic.wait_delivered({s.token for s in traffic.sent})
    ready_after = (await traffic.http.get(f"{bot.url}/readyz")).status_code
    restarted = not bot.alive() or bot.proc is None or bot.proc.pid != pid
    return Through(restarted, ready_during, ready_after)


def assert_answered_once_and_whole(
    traffic: Traffic, users: list[str], stored: Callable[[str], bytes | str | None]
) -> None:
    """One answer per message, busy or not, none twice; and every conversation's stored
    state is whole and counts its answered turns: a turn the user was answered for is never
    lost; a turn answered "busy" may have been committed just before the connection broke,
    never more than those."""
    assert Counter(s.status for s in traffic.sent) == {200: len(traffic.sent)}
    attempts = traffic.reply_attempts_by_token()
    assert {s.token for s in traffic.sent} == set(attempts)
    assert [t for t, n in attempts.items() if n != 1] == []
    assert traffic.pushes() == 0
    for user in users:
        raw = stored(user)
        assert raw is not None, f"{user}'s conversation is gone"
        session = Session.from_json(raw)
        mine = [s.token for s in traffic.sent if s.user == user]
        busy = sum(1 for t in mine if traffic.is_busy(t))
        answered = len(mine) - busy
        assert answered <= session.version <= answered + busy, (user, answered, busy)
        assert not traffic.is_busy(mine[-1])  # the conversation works again
