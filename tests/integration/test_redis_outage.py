"""Redis goes away and comes back: turns fail cleanly meanwhile and work again afterwards.

A private redis-server on a free port is started, killed and restarted on the same port.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
import redis

from core.clock import JST, FixedClock
from core.dialogue import default_dialogue
from core.inbound import ConversationKey, Inbound, InboundKind
from core.store import RedisSessionStore, StoreUnavailable
from core.turn import TurnRunner

KEY = ConversationKey("line", "-", "Uoutage")
NOW = datetime(2026, 6, 20, 10, 0, tzinfo=JST)
# Guards the test run against a hang; the store is meant to give up within ~2 s.
GUARD = 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:  # pragma: no cover - environment problem
            pytest.fail("redis-server is not on PATH")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    pytest.fail(f"private redis-server on port {self.port} did not start")
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def text(msg: str, event_id: str) -> Inbound:
    return Inbound(KEY, InboundKind.TEXT, text=msg, event_id=event_id)


async def test_turns_fail_cleanly_while_redis_is_down_and_recover(
    private_redis: PrivateRedis,
) -> None:
    store = RedisSessionStore(f"redis://127.0.0.1:{private_redis.port}/0", ttl=600)
    runner = TurnRunner(store, default_dialogue(), FixedClock(NOW))
    try:
        first = await asyncio.wait_for(runner.run(text("こんにちは", "e1")), GUARD)
        assert first.reply is not None and first.version == 1
        assert await store.ping()

        private_redis.stop()
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(runner.run(text("ヘルプ", "e2")), GUARD)
        # A readiness probe sees it too, without raising.
        assert not await asyncio.wait_for(store.ping(), GUARD)
        # Still down: every turn keeps failing the same clean way, none is half-answered.
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(runner.run(text("ヘルプ", "e3")), GUARD)

        private_redis.start()  # same port, empty (no persistence)
        again = await asyncio.wait_for(runner.run(text("ヘルプ", "e4")), GUARD)
        assert again.reply is not None
        assert not again.duplicate
        assert again.version == 1  # the data went with the old server; a new session began
        assert await store.ping()
    finally:
        await store.close()


async def test_unavailable_error_does_not_leak_the_password() -> None:
    port = free_port()  # nothing listens here
    store = RedisSessionStore(f"redis://:s3cr3t-pw@127.0.0.1:{port}/0")
    try:
        with pytest.raises(StoreUnavailable) as info:
            await asyncio.wait_for(store.load(KEY, "e1"), GUARD)
        assert "s3cr3t-pw" not in str(info.value)
        assert info.value.__cause__ is None
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(store.commit(KEY, None, 0, "e1"), GUARD)
        assert not await store.ping()
    finally:
        await store.close()
