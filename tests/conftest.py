"""Shared fixtures. Store and integration tests talk to a real Redis (127.0.0.1:6379 unless
IIJBOT_TEST_REDIS_URL says otherwise). Each pytest process leases one logical database
(1–15) with a lock key in db 0, so parallel runs on one machine never clobber each other."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis
from hypothesis import HealthCheck, settings

from core.store import RedisSessionStore

# Speed is measured by bench/, never asserted: on a busy machine Hypothesis' 200 ms
# per-example deadline and its too_slow health check would fail property tests for time.
settings.register_profile("iijbot", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("iijbot")

BASE_URL = os.environ.get("IIJBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
LEASE_TTL = 3600


@pytest.fixture(scope="session")
def redis_db() -> Iterator[int]:
    admin = redis.Redis.from_url(f"{BASE_URL}/0")
    try:
        admin.ping()
    except redis.ConnectionError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"Redis does not answer at {BASE_URL}: {exc}. Start redis-server first.")
    token = uuid.uuid4().hex
    for db in range(1, 16):
        if admin.set(f"iijbot-test-lease:{db}", token, nx=True, ex=LEASE_TTL):
            break
    else:  # pragma: no cover
        pytest.fail("no free Redis test database (1-15): other test runs hold them all")
    try:
        yield db
    finally:
        if admin.get(f"iijbot-test-lease:{db}") == token.encode():
            admin.delete(f"iijbot-test-lease:{db}")
        admin.close()


@pytest.fixture
def redis_url(redis_db: int) -> Iterator[str]:
    """A URL of an empty Redis database, flushed before and after the test."""
    url = f"{BASE_URL}/{redis_db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisSessionStore]:
    """The session store the runner-level tests share, on the test's own database."""
    s = RedisSessionStore(redis_url, ttl=600)
    yield s
    await s.close()


@pytest.fixture(params=["UTC", "America/Los_Angeles"])
def server_tz(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test in a process whose local zone is not Tokyo."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()
