"""Redis goes away in the middle of traffic and comes back; the bot is never restarted.

A private redis-server (AOF, fsync on every write) serves one `iijmio-bot serve` while
two dozen users talk to it, each about once a second. Redis is then killed (SIGKILL, as when its pod
dies) or frozen (SIGSTOP, as a hung host or a black-holed network) and brought back.
Meanwhile every message gets one polite busy notice; afterwards every conversation goes on
where its last committed turn left it: no acknowledged turn lost, nothing half-written.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import httpx
import pytest

from core.inbound import ConversationKey
from core.session import Session
from core.store.base import session_key
from tests.faults.conftest import StubLine, line_env
from tests.faults.line_traffic import TEXTS, Sent, Traffic
from tests.faults.procs import BotProcess, RedisServer

pytestmark = pytest.mark.faults

USERS = 24
BUSY_DURING_OUTAGE = 12  # busy notices seen before Redis is brought back
TURNS_AFTER = 3  # answered turns each user must get after the outage
BOUND = 120.0  # seconds for any one phase: a hang fails the test, it is never timed
# Seconds at least between one user's messages: a person's pace, and under the LINE
# adapter's flood control (one turn a second after a burst), so every message is a turn.
PACE = 1.1


async def wait_for(check: object, what: str) -> None:
    assert callable(check)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def readyz(http: httpx.AsyncClient, bot: BotProcess) -> int:
    return (await http.get(f"{bot.url}/readyz")).status_code


@pytest.mark.parametrize("fault", ["kill", "freeze"])
async def test_redis_outage_mid_traffic_recovers_without_a_bot_restart(
    fault: str, stub_line: StubLine, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path, aof=True)
    server.start()
    bot = BotProcess(line_env(stub_line.url, f"redis://{server.address}/0"), tmp_path)
    traffic = Traffic(stub_line.stub, stub_line.http)
    users = [f"U{n:032x}" for n in range(USERS)]
    stop = asyncio.Event()
    after: list[Sent] = []  # turns sent once Redis was back
    recovered = asyncio.Event()

    async def talk(i: int, user: str) -> None:
        n = 0
        while not stop.is_set():
            await traffic.text(bot.url, user, TEXTS[(i + n) % len(TEXTS)])
            if recovered.is_set():
                after.append(traffic.sent[-1])
            n += 1
            await asyncio.sleep(PACE)

    def busy_count() -> int:
        delivered = set(traffic.replies_by_token())
        return sum(1 for s in traffic.sent if s.token in delivered and traffic.is_busy(s.token))

    def answered_after() -> bool:
        ok = Counter(
            s.user
            for s in after
            if s.token in traffic.replies_by_token() and not traffic.is_busy(s.token)
        )
        return all(ok[u] >= TURNS_AFTER for u in users)

    try:
        await asyncio.to_thread(bot.start)
        pid = bot.proc.pid if bot.proc else None
        talkers = [asyncio.create_task(talk(i, u)) for i, u in enumerate(users)]
        await wait_for(lambda: len(traffic.replies_by_token()) >= 3 * USERS, "first turns")

        if fault == "kill":
            server.kill()
        else:
            assert server.proc is not None
            server.proc.send_signal(signal.SIGSTOP)
        busy_before = busy_count()
        await wait_for(lambda: busy_count() >= busy_before + BUSY_DURING_OUTAGE, "busy notices")
        outage_ready = await readyz(stub_line.http, bot)

        if fault == "kill":
            server.start()  # same port, same AOF
        else:
            assert server.proc is not None
            server.proc.send_signal(signal.SIGCONT)
        recovered.set()
        await wait_for(answered_after, f"every user answered {TURNS_AFTER} times again")
        stop.set()
        await asyncio.wait_for(asyncio.gather(*talkers), BOUND)
        await traffic.wait_delivered({s.token for s in traffic.sent})
        after_ready = await readyz(stub_line.http, bot)
        same_process = bot.alive() and bot.proc is not None and bot.proc.pid == pid
    finally:
        stop.set()
        await asyncio.to_thread(bot.stop)
        if server.proc is not None and fault == "freeze":
            server.proc.send_signal(signal.SIGCONT)

    try:
        assert same_process, "the bot had to be restarted"
        assert outage_ready == 503  # out of the Service while Redis is away
        assert after_ready == 200
        assert Counter(s.status for s in traffic.sent) == {200: len(traffic.sent)}
        # One answer per message, busy or not; none twice.
        attempts = traffic.reply_attempts_by_token()
        assert {s.token for s in traffic.sent} == set(attempts)
        assert [t for t, n in attempts.items() if n != 1] == []
        assert traffic.pushes() == 0
        # Every conversation's stored state is whole and counts its answered turns: a turn
        # the user was answered for is never lost; a turn answered "busy" may have been
        # committed just before the connection broke, never more than those.
        client = server.client()
        for user in users:
            raw = client.get(session_key(ConversationKey("line", "-", user)))
            assert raw is not None, f"{user}'s conversation is gone"
            session = Session.from_json(raw)
            mine = [s.token for s in traffic.sent if s.user == user]
            busy = sum(1 for t in mine if traffic.is_busy(t))
            answered = len(mine) - busy
            assert answered <= session.version <= answered + busy, (user, answered, busy)
            assert not traffic.is_busy(mine[-1])  # the conversation works again
        client.close()
    finally:
        server.kill()
