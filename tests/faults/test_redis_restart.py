"""Redis goes away in the middle of traffic and comes back; the bot is never restarted.

A private redis-server (AOF, fsync on every write) serves one `iijmio-bot serve` while
two dozen users talk to it, each about once a second. Redis is then killed (SIGKILL, as
when its pod dies) or frozen (SIGSTOP, as a hung host or a black-holed network) and
brought back. Meanwhile every message gets one polite busy notice; afterwards every
conversation goes on where its last committed turn left it: no acknowledged turn lost,
nothing half-written.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from core.inbound import ConversationKey
from core.store.base import session_key
from tests.faults.conftest import StubLine, line_env
from tests.faults.line_traffic import Traffic
from tests.faults.outage import assert_answered_once_and_whole, talk_through_outage
from tests.faults.procs import BotProcess, RedisServer

pytestmark = pytest.mark.faults

USERS = 24


@pytest.mark.parametrize("fault", ["kill", "freeze"])
async def test_redis_outage_mid_traffic_recovers_without_a_bot_restart(
    fault: str, stub_line: StubLine, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path, aof=True)
    server.start()
    bot = BotProcess(line_env(stub_line.url, f"redis://{server.address}/0"), tmp_path)
    traffic = Traffic(stub_line.stub, stub_line.http)
    users = [f"U{n:032x}" for n in range(USERS)]

    def cause() -> None:
        if fault == "kill":
            server.kill()
        else:
            assert server.proc is not None
            server.proc.send_signal(signal.SIGSTOP)

    def heal() -> None:
        if fault == "kill":
            server.start()  # same port, same AOF
        else:
            assert server.proc is not None
            server.proc.send_signal(signal.SIGCONT)

    try:
        await asyncio.to_thread(bot.start)
        through = await talk_through_outage(bot, traffic, users, cause, heal)
    finally:
        await asyncio.to_thread(bot.stop)
        if server.proc is not None and fault == "freeze":
            server.proc.send_signal(signal.SIGCONT)

    client = server.client()
    try:
        assert not through.restarted, "the bot had to be restarted"
        assert through.ready_during == 503  # out of the Service while Redis is away
        assert through.ready_after == 200
        assert_answered_once_and_whole(
            traffic, users, lambda u: client.get(session_key(ConversationKey("line", "-", u)))
        )
    finally:
        client.close()
        server.kill()
