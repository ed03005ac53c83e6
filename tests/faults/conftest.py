"""Fixtures of the fault suite: a stub LINE API over real HTTP in the test's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.line_stub import LineStub, serve


@dataclass
class StubLine:
    stub: LineStub
    url: str
    http: httpx.AsyncClient


@pytest.fixture
async def stub_line() -> AsyncIterator[StubLine]:
    stub = LineStub()
    # A pool as wide as the test's concurrency, so the client is never what limits it.
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with serve(stub.app()) as url, httpx.AsyncClient(timeout=60, limits=limits) as http:
        yield StubLine(stub, url, http)


def line_env(stub_url: str, redis_url: str) -> dict[str, str]:
    """What `serve` needs for LINE against the stub; logs at WARNING keep the files small."""
    from tests.integration.line_stub import ACCESS_TOKEN, CHANNEL_SECRET

    return {
        "REDIS_URL": redis_url,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": stub_url,
        "LOG_LEVEL": "WARNING",
    }
