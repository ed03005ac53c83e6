"""`iijmio-bot serve --workers N`: N processes answer on one port, each a whole bot."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bots.settings import ENV_VARS
from tests.integration.line_stub import sign

ROOT = Path(__file__).resolve().parents[2]
START_BOUND = 60.0  # a bound for a broken build, not a timing
SECRET = "line-channel-secret-workers-01"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_serve_with_two_workers_answers_from_two_processes_and_stops(redis_url: str) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(
        {
            "REDIS_URL": redis_url,
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": "token-workers",
            # Nothing listens there: replies fail, the webhook's 200 does not wait for them.
            "LINE_API_BASE_URL": f"http://127.0.0.1:{_free_port()}",
        }
    )
    cmd = [sys.executable, "-m", "bots", "serve", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + START_BOUND
        while len(_children(proc.pid)) < 2 or not _healthy(port):
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        body = json.dumps({"destination": "U", "events": []}).encode()
        hook = httpx.post(
            f"http://127.0.0.1:{port}/line/webhook",
            content=body,
            headers={"x-line-signature": sign(body, SECRET)},
            timeout=10,
        )
        assert hook.status_code == 200
        workers = _children(proc.pid)
        assert len(workers) >= 2  # the supervisor forked two workers
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=START_BOUND)
    assert proc.returncode == 0, err[-2000:]
    assert err.count("Application startup complete") == 2  # each worker built its own app


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_serve_refuses_zero_workers() -> None:
    cmd = [sys.executable, "-m", "bots", "serve", "--workers", "0"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=START_BOUND)
    assert proc.returncode == 2
    assert "positive whole number" in proc.stderr
