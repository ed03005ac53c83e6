"""The real server over HTTP: uvicorn on a free 127.0.0.1 port, real Redis behind it."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn

from bots.server import create_app
from bots.settings import ENV_VARS, Settings
from core.clock import JST, FixedClock
from tests.integration import line_stub, slack_stub
from tests.integration.line_stub import LineHarness, LineStub, serve

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LINE_SECRET = "line-channel-secret-4b1d0c3e"
LINE_TOKEN = "line-access-token-QWERTYUIOP123"
SLACK_SECRET = "slack-signing-secret-9e8d7c6b"
SLACK_TOKEN = "xoxb-1234-5678-abcdefghijkl"
CLIENT_TIMEOUT = 10.0  # generous: only stops a hung server from hanging the test run
START_BOUND = 60.0  # seconds for a server to come up: a bound for a broken build, not a timing


def closed_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running(settings: Settings) -> Iterator[httpx.Client]:
    """Serve create_app(settings) with uvicorn in a background thread; yields a client."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), lifespan="on", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_BOUND
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError("server failed to start")
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=CLIENT_TIMEOUT) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=START_BOUND)
        sock.close()


def server_records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "iijbot.server" and r.getMessage() == message]


def test_healthz_answers_ok(redis_url: str) -> None:
    with running(Settings.from_env({"REDIS_URL": redis_url})) as client:
        r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_is_ready_when_redis_answers(redis_url: str) -> None:
    with running(Settings.from_env({"REDIS_URL": redis_url})) as client:
        r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ready"


def test_readyz_is_503_with_a_reason_when_redis_is_unreachable_but_healthz_stays_ok() -> None:
    settings = Settings.from_env({"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"})
    with running(settings) as client:
        ready = client.get("/readyz")
        health = client.get("/healthz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert "session store" in body["reason"]
    # Liveness must not fail on a Redis outage, or Kubernetes would restart healthy pods.
    assert health.status_code == 200


def test_a_server_started_without_its_redis_says_so_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # It still starts (Redis may come up later; /readyz holds traffic back until then), but
    # the startup log must not read as if the configured Redis were working.
    caplog.set_level(logging.INFO, logger="iijbot.server")
    settings = Settings.from_env({"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"})
    with running(settings) as client:
        assert client.get("/healthz").status_code == 200
    [started] = server_records(caplog, "server started")
    warned = [
        r
        for r in caplog.records
        if r.name == "iijbot.server"
        and r.levelno == logging.WARNING
        and "Redis does not answer" in r.getMessage()
    ]
    assert len(warned) == 1, [r.getMessage() for r in caplog.records]
    assert warned[0].created <= started.created
    assert "session store" in warned[0].reason  # type: ignore[attr-defined]


def test_a_server_whose_redis_answers_gives_no_redis_warning(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="iijbot.server")
    with running(Settings.from_env({"REDIS_URL": redis_url})) as client:
        assert client.get("/readyz").status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    [started] = server_records(caplog, "server started")
    assert started.store == "redis"  # type: ignore[attr-defined]


def test_readyz_gives_up_on_a_redis_that_accepts_but_never_answers() -> None:
    # A half-dead Redis (or a black-holed network) must not hang the probe.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        with running(Settings.from_env({"REDIS_URL": f"redis://127.0.0.1:{port}/0"})) as client:
            r = client.get("/readyz")
    assert r.status_code == 503
    assert "did not answer" in r.json()["reason"]


def test_readyz_never_leaks_the_redis_password() -> None:
    password = "very-secret-redis-pw"
    settings = Settings.from_env({"REDIS_URL": f"redis://:{password}@127.0.0.1:{closed_port()}/0"})
    with running(settings) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    assert password not in r.text


def test_memory_store_is_ready_and_warns_that_state_is_not_shared(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="iijbot.server")
    with running(Settings.from_env({})) as client:
        r = client.get("/readyz")
    assert r.status_code == 200
    warnings = [
        rec
        for rec in caplog.records
        if rec.levelno == logging.WARNING and "REDIS_URL is not set" in rec.getMessage()
    ]
    assert len(warnings) == 1
    [started] = server_records(caplog, "server started")
    assert started.store == "memory"  # type: ignore[attr-defined]


METRICS_TOKEN = "metrics-token-7d1e4b2a"
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def test_metrics_expose_iijbot_metrics_in_prometheus_text_format(redis_url: str) -> None:
    settings = Settings.from_env({"REDIS_URL": redis_url, "IIJBOT_METRICS_TOKEN": METRICS_TOKEN})
    with running(settings) as client:
        r = client.get("/metrics", headers=SCRAPE)
        om = client.get("/metrics", headers={**SCRAPE, "Accept": "application/openmetrics-text"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    for name in ("iijbot_turns_total", "iijbot_turn_seconds", "iijbot_webhook_requests_total"):
        assert f"# TYPE {name}" in r.text
    # A scraper that asks for OpenMetrics gets it.
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.rstrip().endswith("# EOF")


def test_unconfigured_platforms_are_not_mounted_and_the_log_says_what_is_missing(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="iijbot.server")
    with running(Settings.from_env({"REDIS_URL": redis_url})) as client:
        line = client.post("/line/webhook", content=b'{"events": []}')
        slack = client.post("/slack/events", content=b"command=%2Fiijmio")
    assert line.status_code == 404
    assert slack.status_code == 404
    missing = {r.platform: r.missing for r in server_records(caplog, "platform not mounted")}  # type: ignore[attr-defined]
    assert missing == {
        "line": "LINE_CHANNEL_SECRET,LINE_CHANNEL_ACCESS_TOKEN",
        "slack": "SLACK_SIGNING_SECRET,SLACK_BOT_TOKEN",
    }
    [started] = server_records(caplog, "server started")
    assert started.platforms == "none"  # type: ignore[attr-defined]


def test_a_half_configured_platform_names_only_the_missing_variable(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="iijbot.server")
    env = {"REDIS_URL": redis_url, "LINE_CHANNEL_SECRET": LINE_SECRET}
    with running(Settings.from_env(env)) as client:
        assert client.post("/line/webhook", content=b'{"events": []}').status_code == 404
    missing = {r.platform: r.missing for r in server_records(caplog, "platform not mounted")}  # type: ignore[attr-defined]
    assert missing["line"] == "LINE_CHANNEL_ACCESS_TOKEN"
    assert LINE_SECRET not in caplog.text


def test_line_is_mounted_when_both_secrets_are_set(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="iijbot.server")
    env = {
        "REDIS_URL": redis_url,
        "LINE_CHANNEL_SECRET": LINE_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
        "LINE_API_BASE_URL": f"http://127.0.0.1:{closed_port()}",
    }
    body = b'{"destination": "U0", "events": []}'
    with running(Settings.from_env(env)) as client:
        verify = client.post(
            "/line/webhook",
            content=body,
            headers={"X-Line-Signature": line_stub.sign(body, LINE_SECRET)},
        )
        forged = client.post(
            "/line/webhook",
            content=body,
            headers={"X-Line-Signature": line_stub.sign(body, "not-the-secret")},
        )
        wrong_method = client.get("/line/webhook")
    # The console's Verify button sends an empty event list and needs a 200.
    assert verify.status_code == 200
    assert forged.status_code == 400
    assert wrong_method.status_code == 405
    [mounted] = server_records(caplog, "platform mounted")
    assert mounted.platform == "line"  # type: ignore[attr-defined]
    for secret in (LINE_SECRET, LINE_TOKEN):
        assert secret not in caplog.text


def slack_json_headers(body: bytes, secret: str, ts: int) -> dict[str, str]:
    return {**slack_stub.sign(body, ts, secret), "Content-Type": "application/json"}


def test_slack_is_mounted_when_both_secrets_are_set_and_answers_url_verification(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="iijbot.server")
    env = {
        "REDIS_URL": redis_url,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_API_URL": f"http://127.0.0.1:{closed_port()}/api",
    }
    body = b'{"type": "url_verification", "challenge": "chal-42", "token": "legacy"}'
    now = int(time.time())
    with running(Settings.from_env(env)) as client:
        verified = client.post(
            "/slack/events", content=body, headers=slack_json_headers(body, SLACK_SECRET, now)
        )
        forged = client.post(
            "/slack/events", content=body, headers=slack_json_headers(body, "wrong-secret", now)
        )
        line = client.post("/line/webhook", content=b'{"events": []}')
    # The Events API's URL check must echo the challenge, or Slack refuses the request URL.
    assert verified.status_code == 200
    assert "chal-42" in verified.text
    assert forged.status_code == 401
    assert line.status_code == 404
    [mounted] = server_records(caplog, "platform mounted")
    assert mounted.platform == "slack"  # type: ignore[attr-defined]
    for secret in (SLACK_SECRET, SLACK_TOKEN):
        assert secret not in caplog.text


def test_access_log_has_the_path_but_never_the_query_string(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="iijbot.server")
    with running(Settings.from_env({"REDIS_URL": redis_url})) as client:
        client.get("/healthz", params={"token": "xq-query-secret"})
        client.post("/line/webhook?access_token=xq-other-secret", content=b"{}")
    requests = server_records(caplog, "request")
    paths = {(r.path, r.status) for r in requests}  # type: ignore[attr-defined]
    assert ("/healthz", 200) in paths
    assert ("/line/webhook", 404) in paths
    assert "xq-query-secret" not in caplog.text
    assert "xq-other-secret" not in caplog.text


# --- the `serve` entry point, as a real process --------------------------------------------


def serve_process(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    code = f"from bots.server import serve; serve('127.0.0.1', {port})"
    # Only the variables the test sets: a developer's own LINE/Slack secrets must not leak in.
    full_env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    full_env.update(env)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_healthy(proc: subprocess.Popen[str], port: int) -> httpx.Response:
    deadline = time.monotonic() + START_BOUND
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=CLIENT_TIMEOUT)
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                _, err = proc.communicate()
                raise AssertionError(f"serve did not come up: {err}") from None
            time.sleep(0.05)


def test_serve_runs_logs_logfmt_without_secrets_and_stops_cleanly_on_sigterm(
    redis_url: str,
) -> None:
    port = closed_port()
    env = {
        "REDIS_URL": redis_url,
        "LINE_CHANNEL_SECRET": LINE_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
        "LOG_LEVEL": "info",
    }
    proc = serve_process(env, port)
    try:
        health = wait_healthy(proc, port)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=CLIENT_TIMEOUT)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=START_BOUND)
    assert health.status_code == 200
    assert ready.status_code == 200
    # uvicorn finishes the graceful shutdown (lifespan included), then re-raises SIGTERM so
    # the exit status says why it stopped.
    assert proc.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in err
    lines = err.splitlines()
    assert lines, "serve wrote no log"
    assert all(line.startswith("ts=") and " level=" in line for line in lines), err
    assert any('msg="platform mounted"' in line and "platform=line" in line for line in lines)
    assert any('msg="platform not mounted"' in line and "platform=slack" in line for line in lines)
    for secret in (LINE_SECRET, LINE_TOKEN):
        assert secret not in err


def test_serve_refuses_bad_configuration_with_a_clear_message() -> None:
    proc = serve_process({"IIJBOT_SESSION_TTL": "forever"}, closed_port())
    _, err = proc.communicate(timeout=START_BOUND)
    assert proc.returncode == 2
    assert "IIJBOT_SESSION_TTL" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


# --- the composed server end to end: LINE stub ↔ server ↔ Redis ------------------------------


def metric_value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and line.split("}")[0][len(name) + 1 :] == wanted:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@asynccontextmanager
async def composed_line(redis_url: str, **env: str) -> AsyncIterator[LineHarness]:
    """The composed server (create_app) with LINE mounted against its stub, at a fixed
    clock; `env` adds settings."""
    stub = LineStub()
    async with serve(stub.app()) as stub_url:
        settings = Settings.from_env(
            {
                "REDIS_URL": redis_url,
                "LINE_CHANNEL_SECRET": line_stub.CHANNEL_SECRET,
                "LINE_CHANNEL_ACCESS_TOKEN": line_stub.ACCESS_TOKEN,
                "LINE_API_BASE_URL": stub_url,
                **env,
            }
        )
        now = datetime(2026, 6, 1, 10, 0, tzinfo=JST)
        app = create_app(settings, clock=FixedClock(now))
        async with serve(app) as bot_url, httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
            yield LineHarness(
                stub=stub, bot_url=bot_url, http=http, bot=app.state.runtime.bots["line"], now=now
            )


async def test_a_signed_line_follow_is_answered_through_the_composed_server(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    async with composed_line(redis_url, IIJBOT_METRICS_TOKEN=METRICS_TOKEN) as harness:
        http, bot_url = harness.http, harness.bot_url
        before = (await http.get(f"{bot_url}/metrics", headers=SCRAPE)).text
        follow = harness.event("follow", follow={"isUnblocked": False})
        response = await harness.send(follow)
        after = (await http.get(f"{bot_url}/metrics", headers=SCRAPE)).text
    assert response.status_code == 200
    [delivered] = harness.stub.delivered
    assert delivered.method == "reply" and delivered.target == follow["replyToken"]
    # Committed to the Redis the settings named, under the key layout of docs/design.md.
    keys = [
        k.decode() if isinstance(k, bytes) else k
        for k in await aredis.keys("iijbot:v1:{line:*}:session")
    ]
    assert len(keys) == 1
    assert "U1111" in keys[0]
    ok_turns = {"platform": "line", "outcome": "ok"}
    assert metric_value(after, "iijbot_turns_total", **ok_turns) == (
        metric_value(before, "iijbot_turns_total", **ok_turns) + 1
    )


@pytest.mark.parametrize("log_text", ["1", "0"])
async def test_iijbot_log_text_decides_whether_the_turn_log_carries_what_was_typed(
    redis_url: str, log_text: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="iijbot.turn")
    typed = "最低利用期間を知りたいです"
    async with composed_line(redis_url, IIJBOT_LOG_TEXT=log_text) as harness:
        assert (await harness.send(harness.text(typed))).status_code == 200
    turns = [r.getMessage() for r in caplog.records if r.name == "iijbot.turn"]
    assert turns, "the turn was not logged"
    assert any(typed in t for t in turns) is (log_text == "1"), turns
