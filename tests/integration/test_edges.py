"""Edges that load and fault tests found (issue 8): the composed server (create_app) over real
HTTP, a real Redis, the LINE and Slack stubs, requests signed as the platforms sign them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from adapters.line.flood import FloodGate
from adapters.line.texts import say
from bots.server import MAX_BODY_BYTES, create_app
from bots.settings import Settings
from core.clock import JST, FixedClock
from core.inbound import ConversationKey
from core.store.base import session_key
from tests.clocks import MovingClock
from tests.integration import line_stub, slack_stub
from tests.integration.line_stub import LineHarness, LineStub, line_harness, serve

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 22, 10, 0, tzinfo=JST)
USER = "U1111"
BUSY = "ただいま混み合っています。少し時間をおいてもう一度お試しください。"
CLIENT_TIMEOUT = 10.0  # only stops a hung server from hanging the run


@dataclass
class Composed:
    url: str
    http: httpx.AsyncClient
    line: LineHarness
    slack: slack_stub.SlackStub

    async def slack_post(self, body: bytes, content_type: str) -> httpx.Response:
        headers = {"Content-Type": content_type, **slack_stub.sign(body, int(time.time()))}
        return await self.http.post(f"{self.url}/slack/events", content=body, headers=headers)


@contextlib.asynccontextmanager
async def composed(redis_url: str, now: datetime = NOW, **env: str) -> AsyncIterator[Composed]:
    """create_app with LINE and Slack mounted, each against its stub."""
    stub = LineStub()
    sstub = slack_stub.SlackStub(token=slack_stub.BOT_TOKEN)
    await sstub.start()
    try:
        async with serve(stub.app()) as stub_url:
            settings = Settings.from_env(
                {
                    "REDIS_URL": redis_url,
                    "LINE_CHANNEL_SECRET": line_stub.CHANNEL_SECRET,
                    "LINE_CHANNEL_ACCESS_TOKEN": line_stub.ACCESS_TOKEN,
                    "LINE_API_BASE_URL": stub_url,
                    "SLACK_SIGNING_SECRET": slack_stub.SIGNING_SECRET,
                    "SLACK_BOT_TOKEN": slack_stub.BOT_TOKEN,
                    "SLACK_API_URL": sstub.api_url,
                    **env,
                }
            )
            app = create_app(settings, clock=FixedClock(now))
            async with (
                serve(app) as url,
                httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http,
            ):
                harness = LineHarness(
                    stub=stub, bot_url=url, http=http, bot=app.state.runtime.bots["line"], now=now
                )
                yield Composed(url=url, http=http, line=harness, slack=sstub)
    finally:
        await sstub.stop()


@pytest.fixture
async def server(redis_url: str) -> AsyncIterator[Composed]:
    async with composed(redis_url) as c:
        yield c


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


# --- 1. bodies over the limit are refused before they are read ------------------------------


def _raw_post(port: int, path: str, head: str, body_parts: list[bytes]) -> bytes:
    """Speak HTTP/1.1 by hand: declare a huge body, send only a little, read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT) as s:
        s.sendall(head.encode())
        for part in body_parts:
            try:
                s.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed: that is the point
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer:
                    break
        return answer


@pytest.mark.parametrize("path", ["/line/webhook", "/slack/events"])
async def test_a_declared_huge_body_gets_413_before_it_is_sent(
    server: Composed, aredis: aioredis.Redis, path: str
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-Line-Signature: bm9wZQ==\r\nContent-Length: {200 * 1024 * 1024}\r\n\r\n"
    )
    # Only 64 KB of the declared 200 MB ever leave: a server that waited for all of it
    # would never answer, and this call would time out.
    answer = await asyncio.to_thread(_raw_post, port, path, head, [b"{" * 65536])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
    assert await aredis.dbsize() == 0


@pytest.mark.parametrize("path", ["/line/webhook", "/slack/events"])
async def test_a_chunked_body_over_the_limit_gets_413(
    server: Composed, aredis: aioredis.Redis, path: str
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "X-Line-Signature: bm9wZQ==\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"a" * 65536
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    # Twice the limit, and no final 0-chunk: only counting while streaming can answer.
    parts = [framed] * (2 * MAX_BODY_BYTES // len(chunk))
    answer = await asyncio.to_thread(_raw_post, port, path, head, parts)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
    assert await aredis.dbsize() == 0


async def test_a_body_just_under_the_limit_is_still_read_and_judged(server: Composed) -> None:
    body = json.dumps({"events": [], "pad": "x" * (MAX_BODY_BYTES - 100)}).encode()
    assert len(body) <= MAX_BODY_BYTES
    resp = await server.line.post_raw(body, line_stub.sign(body))
    assert resp.status_code == 200


# --- 5. signed but hostile bodies never give a 5xx ------------------------------------------


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


async def test_line_body_nested_100000_deep_is_a_400_not_a_500(server: Composed) -> None:
    body = b'{"events": ' + _deep(100_000) + b"}"
    resp = await server.line.post_raw(body, line_stub.sign(body))
    assert resp.status_code == 400


@pytest.mark.parametrize("poison_first", [True, False])
async def test_a_poison_postback_does_not_stop_the_other_events_replies(
    server: Composed, poison_first: bool
) -> None:
    h = server.line
    # Postback data is ours to parse, and LINE passes whatever a client put there.
    poison = h.postback('{"n":' + "[" * 100_000 + "]" * 100_000 + "}", user="Upoison")
    good = h.text("解約したい")
    resp = await h.send(*((poison, good) if poison_first else (good, poison)))
    assert resp.status_code == 200
    assert [d.target for d in h.stub.delivered] == [good["replyToken"]]


async def test_an_event_whose_fields_have_the_wrong_types_is_skipped_not_fatal(
    server: Composed,
) -> None:
    h = server.line
    odd = h.event("message", message={"type": "text", "text": {"not": "a string"}})
    odd["source"] = {"type": "user", "userId": ["U1"]}
    odd2 = h.postback("n=menu&v=initial")
    odd2["postback"]["params"] = {"date": ["2026-06-20"]}
    good = h.text("解約したい")
    resp = await h.send(odd, odd2, good)
    assert resp.status_code == 200
    assert good["replyToken"] in [d.target for d in h.stub.delivered]


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "block_actions", "user": {"id": "U1"}, "actions": "nope"},
        {"type": "block_actions", "user": {"id": "U1"}, "actions": ["nope", 1]},
        {"type": "block_actions", "user": "U1", "container": "x", "actions": [{}]},
        {"type": "view_submission", "view": "nope"},
        {"type": "nope"},
        # Found by the fault suite's fuzzing: Bolt indexes actions[0].
        {"type": "block_actions", "user": {"id": "U1"}, "actions": []},
        {"type": "block_actions", "user": {"id": "U1"}, "actions": None},
    ],
)
async def test_slack_signed_but_hostile_actions_are_never_a_5xx(
    server: Composed, payload: dict[str, Any]
) -> None:
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps(payload)}).encode()
    resp = await server.slack_post(body, "application/x-www-form-urlencoded")
    assert resp.status_code < 500


@pytest.mark.parametrize(
    "body",
    [
        {"type": "event_callback", "team_id": "T1", "event": "hello"},
        {"type": "event_callback", "team_id": "T1", "event": {"type": ["message"]}},
        {"type": "event_callback", "event": {"type": "message", "channel_type": "im"}},
        {"type": "event_callback", "event": {"type": "message", "user": {"x": 1}}},
        {"type": "url_verification", "challenge": {"x": 1}},
        {"type": ["x"]},
        # Found by the fault suite's fuzzing: a null event.
        {"type": "event_callback", "team_id": "T1", "event": None},
        {"type": "url_verification", "challenge": "c", "event": None},
    ],
)
async def test_slack_signed_but_hostile_events_are_never_a_5xx(
    server: Composed, body: dict[str, Any]
) -> None:
    resp = await server.slack_post(json.dumps(body).encode(), "application/json")
    assert resp.status_code < 500


async def test_slack_body_nested_100000_deep_is_a_400(server: Composed) -> None:
    body = b'{"type": "event_callback", "event": ' + _deep(100_000) + b"}"
    resp = await server.slack_post(body, "application/json")
    assert resp.status_code == 400
    form = b"payload=" + _deep(100_000)
    resp = await server.slack_post(form, "application/x-www-form-urlencoded")
    assert resp.status_code == 400


# --- 2. the webhook's answer never waits for an outbound call --------------------------------


async def test_the_webhook_answers_while_the_loading_animation_call_hangs(redis_url: str) -> None:
    # A zero threshold makes the turn "slow", so the animation is asked for every time.
    async with line_harness(redis_url, NOW, loading_after=0.0) as h:
        gate = h.stub.hold("/v2/bot/chat/loading/start")
        ev = h.text("解約したい")
        body = json.dumps({"destination": "Ubot", "events": [ev]}, ensure_ascii=False).encode()
        headers = {"content-type": "application/json", "x-line-signature": line_stub.sign(body)}
        # LINE's API does not answer the animation call until the gate opens; the webhook's
        # 200 must come anyway (before the fix this waited for the hung call).
        try:
            post = h.http.post(h.webhook, content=body, headers=headers)
            resp = await asyncio.wait_for(post, CLIENT_TIMEOUT)
            assert resp.status_code == 200
            await asyncio.wait_for(_until(lambda: bool(h.stub.requests)), CLIENT_TIMEOUT)
            assert not h.stub.calls("/v2/bot/message/reply")  # waits for its animation call
        finally:
            gate.set()  # a failing run must not hang the shutdown on the held call
        await h.bot.drain()
        assert [d.target for d in h.stub.delivered] == [ev["replyToken"]]
        paths = [r.path for r in h.stub.requests]
        # The animation is asked for before the answer: shown after it, it would spin on.
        assert paths == ["/v2/bot/chat/loading/start", "/v2/bot/message/reply"]


# --- 7. old LINE events are not run again -------------------------------------------------------


def _signed(ev: dict[str, Any]) -> tuple[bytes, str]:
    return _signed_batch(ev)


def _signed_batch(*events: dict[str, Any]) -> tuple[bytes, str]:
    body = json.dumps({"destination": "Ubot", "events": list(events)}, ensure_ascii=False)
    return body.encode(), line_stub.sign(body.encode())


async def _forget_dedupe_keys(r: aioredis.Redis) -> None:
    """What Redis does by itself once EVENT_TTL has passed."""
    for key in await r.keys("iijbot:v1:*:evt:*"):
        await r.delete(key)


async def test_a_captured_body_replayed_after_the_dedupe_window_is_ignored(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    clock = MovingClock(NOW)
    async with line_harness(redis_url, NOW, clock=clock) as h:
        body, signature = _signed(h.text("解約したい"))
        assert (await h.post_raw(body, signature)).status_code == 200
        assert len(h.stub.delivered) == 1
        session = await aredis.get(_key())

        clock.at = NOW + timedelta(hours=2)
        await _forget_dedupe_keys(aredis)
        # The same bytes, still validly signed, sent again by someone who captured them.
        assert (await h.post_raw(body, signature)).status_code == 200
        assert len(h.stub.delivered) == 1  # no second answer, above all no (billed) push
        assert not h.stub.calls("/v2/bot/message/push")
        assert await aredis.get(_key()) == session  # the turn did not run again


async def test_a_late_redelivery_within_lines_period_is_still_answered(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    clock = MovingClock(NOW + timedelta(hours=2))
    async with line_harness(redis_url, NOW, clock=clock) as h:
        # Sent at NOW, refused then (we were down), redelivered by LINE two hours later.
        ev = h.text("解約したい", redelivery=True)
        assert (await h.post_raw(*_signed(ev))).status_code == 200
        assert [d.target for d in h.stub.delivered] == [ev["replyToken"]]
        assert await aredis.get(_key()) is not None

        clock.at = NOW + timedelta(days=3)
        late = h.text("解約したい", redelivery=True)
        assert (await h.post_raw(*_signed(late))).status_code == 200
        assert len(h.stub.delivered) == 1  # past LINE's redelivery period: a replay


def _key(user: str = USER) -> str:
    return session_key(ConversationKey(platform="line", workspace="-", user=user))


# --- 8. redelivery instead of a lost message; flood control -----------------------------------


async def test_with_redelivery_on_a_store_outage_is_a_500_then_the_redelivery_is_answered_once(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    async with line_harness("redis://127.0.0.1:1/0", NOW, redelivery=True) as down:
        ev = down.text("解約したい")
        resp = await down.post_raw(*_signed(ev))
        # 500: LINE (redelivery on) sends the event again; no notice that would be followed
        # by a second, real answer.
        assert resp.status_code == 500
        assert down.stub.delivered == []
    async with line_harness(redis_url, NOW, redelivery=True) as up:
        again = dict(ev, replyToken=up.stub.issue_reply_token())
        again["deliveryContext"] = {"isRedelivery": True}
        assert (await up.post_raw(*_signed(again))).status_code == 200
        assert (await up.post_raw(*_signed(again))).status_code == 200  # LINE retried anyway
        assert [d.target for d in up.stub.delivered] == [again["replyToken"]]
        assert await aredis.get(_key()) is not None


async def test_without_redelivery_a_store_outage_still_gets_the_busy_notice_and_200() -> None:
    async with line_harness("redis://127.0.0.1:1/0", NOW) as h:
        assert (await h.send(h.text("解約したい"))).status_code == 200
        [d] = h.stub.delivered
        assert d.messages == [{"type": "text", "text": BUSY}]


async def test_a_flooding_user_gets_one_slow_down_and_others_are_still_answered(
    redis_url: str,
) -> None:
    t = [0.0]
    gate = FloodGate(clock=lambda: t[0])  # time stands still: nothing refills by itself
    async with line_harness(redis_url, NOW, flood=gate) as h:
        for _ in range(30):  # 30 messages "in the same second"
            assert (await h.send(h.text("解約したい"))).status_code == 200
        to_flooder = [d.messages for d in h.stub.delivered]
        notices = [m for m in to_flooder if m == [{"type": "text", "text": say("slow_down")}]]
        assert len(notices) == 1
        assert len(to_flooder) == gate.burst + 1  # the burst answered, one notice, then quiet

        other = h.text("解約したい", user="U2222")
        await h.send(other)
        assert h.stub.delivered[-1].target == other["replyToken"]  # others are not slowed

        t[0] += 60.0  # a minute later the flooder is answered normally again
        back = h.text("メニュー")
        await h.send(back)
        assert h.stub.delivered[-1].target == back["replyToken"]
        assert h.stub.delivered[-1].messages != notices[0]


# --- 9. /metrics is not open on the public port ------------------------------------------------


async def test_metrics_answer_only_with_the_bearer_token(redis_url: str) -> None:
    token = "metrics-token-5f0c2a9e"
    async with composed(redis_url, IIJBOT_METRICS_TOKEN=token) as c:
        anonymous = await c.http.get(f"{c.url}/metrics")
        wrong = await c.http.get(f"{c.url}/metrics", headers={"Authorization": "Bearer nope"})
        right = await c.http.get(f"{c.url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert anonymous.status_code == 401 and wrong.status_code == 401
    assert "iijbot_turns_total" not in anonymous.text + wrong.text
    assert right.status_code == 200 and "# TYPE iijbot_turns_total" in right.text


async def test_metrics_are_not_served_without_a_token(redis_url: str) -> None:
    async with composed(redis_url) as c:
        resp = await c.http.get(f"{c.url}/metrics")
    assert resp.status_code == 404


# --- 6. replies in flight at SIGTERM are delivered ------------------------------------------


async def test_replies_in_flight_at_sigterm_are_delivered_before_the_process_exits(
    redis_url: str,
) -> None:
    from tests.integration.test_server import closed_port, serve_process, wait_healthy

    stub = LineStub()
    gate = stub.hold("/v2/bot/message/reply")
    async with serve(stub.app()) as stub_url, httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
        port = closed_port()
        env = {
            "REDIS_URL": redis_url,
            "LINE_CHANNEL_SECRET": line_stub.CHANNEL_SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": line_stub.ACCESS_TOKEN,
            "LINE_API_BASE_URL": stub_url,
        }
        proc = serve_process(env, port)
        try:
            await asyncio.to_thread(wait_healthy, proc, port)
            url = f"http://127.0.0.1:{port}"
            h = LineHarness(stub=stub, bot_url=url, http=http, bot=None, now=datetime.now(JST))
            first, second = h.text("解約したい"), h.text("解約したい", user="U2222")
            body, signature = _signed_batch(first, second)
            resp = await http.post(
                h.webhook,
                content=body,
                headers={"content-type": "application/json", "x-line-signature": signature},
            )
            assert resp.status_code == 200
            # The first reply is at LINE (held there), the second queued behind it.
            await asyncio.wait_for(_until(lambda: bool(stub.requests)), CLIENT_TIMEOUT)
            proc.send_signal(signal.SIGTERM)
            # Held longer than the 5 s the server used to give its adapters on shutdown.
            await asyncio.sleep(6)
        finally:
            gate.set()
            _, err = await asyncio.to_thread(proc.communicate, timeout=60)
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert sorted(d.target for d in stub.delivered) == sorted(
        [first["replyToken"], second["replyToken"]]
    ), err


async def test_the_composed_server_has_flood_control_as_configured(redis_url: str) -> None:
    async with composed(redis_url, IIJBOT_FLOOD_BURST="2") as c:
        h = c.line
        # One body of six messages from one user: far faster than the bucket refills.
        await h.send(*(h.text("解約したい") for _ in range(6)))
        texts = [d.messages for d in h.stub.delivered]
    assert len(texts) == 3
    assert texts[-1] == [{"type": "text", "text": say("slow_down")}]
