"""Serving the real app for the web tests: uvicorn on a free 127.0.0.1 port, real Redis."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import uvicorn
from starlette.types import ASGIApp

from bots.server import create_app
from bots.settings import Settings
from core.clock import JST, FixedClock

START_BOUND = 60.0  # seconds: a bound for a broken build, not a timing
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=JST)
SECRET = "web-cookie-secret-0123456789abcdef"


def web_settings(redis_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"redis_url": redis_url, "web_secret": SECRET}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve `app` in a background thread; yields its base URL (http://127.0.0.1:port)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_BOUND
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("server failed to start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_BOUND)
        sock.close()


@contextmanager
def web_server(settings: Settings, now: datetime = NOW) -> Iterator[str]:
    with serving(create_app(settings, clock=FixedClock(now))) as base:
        yield base
