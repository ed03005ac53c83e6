"""A local stand-in for slack.com/api and for response_url endpoints.

It answers the Web API methods the bot uses with Slack's own semantics (HTTP 200 with
`{"ok": false, "error": ...}` for API errors, a bearer token check), records every call,
and can be told to fail the next calls with an HTTP 500 or a 429 with Retry-After.
response_url endpoints record the JSON posted to them and, like Slack, stop working
after 5 uses (404 expired_url).

Scheduled messages (chat.scheduleMessage, chat.deleteScheduledMessage,
chat.scheduledMessages.list) follow Slack's documented rules: post_at in the future and at
most 120 days ahead, at most 30 in any 5 minutes to one channel, and a message whose time
has come is posted (it leaves the list, and deleting it is invalid_scheduled_message_id).
"Now" is the stub's `now`, so a test gives it the clock its server runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import socket
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

RESPONSE_URL_USES = 5
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
SCHEDULE_MAX_AHEAD = timedelta(days=120)
SCHEDULE_WINDOW = 300  # seconds: at most SCHEDULE_WINDOW_MAX messages per channel in it
SCHEDULE_WINDOW_MAX = 30
SCHEDULED_POST = "scheduled"  # Call.method of a scheduled message Slack posted at its time


@dataclass
class Call:
    method: str  # "chat.postMessage", ... or "response_url"
    body: dict[str, Any]
    status: int  # what the stub answered
    name: str = ""  # the response_url's name
    response: dict[str, Any] = field(default_factory=dict)  # what a Web API call answered


@dataclass
class Scheduled:
    id: str  # "Q…"
    channel: str
    post_at: int  # Unix seconds
    date_created: int
    body: dict[str, Any]  # what chat.scheduleMessage was given


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SlackStub:
    token: str
    team_id: str = "T0TEST"
    calls: list[Call] = field(default_factory=list)
    _failures: dict[str, deque[tuple[int, int | None]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    _uses: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    base_url: str = ""
    # Web API methods that hang (no answer) until the stub stops: a Slack outage
    hang: set[str] = field(default_factory=set)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    # Slack's clock, for scheduled messages: a test passes the one its server runs on.
    now: Callable[[], datetime] = _utc_now
    _scheduled: dict[str, Scheduled] = field(default_factory=dict)
    _scheduled_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._released.set()  # let hung calls finish, or cleanup would wait for them
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"  # AsyncWebClient needs the trailing slash

    def response_url(self, name: str) -> str:
        return f"{self.base_url}/respond/{name}"

    def fail_next(self, method: str, status: int, *, retry_after: int | None = None) -> None:
        """The next call of `method` ("response_url" for any response_url) gets `status`."""
        self._failures[method].append((status, retry_after))

    # ---- what the tests read ----------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def delivered(self) -> list[Call]:
        """Messages a user would see (successful posts, updates and response_url uses, and
        scheduled messages posted at their time)."""
        self._post_due()
        kinds = {
            "chat.postMessage",
            "chat.update",
            "chat.postEphemeral",
            "response_url",
            SCHEDULED_POST,
        }
        return [c for c in self.calls if c.method in kinds and c.status == 200]

    def scheduled(self) -> list[Scheduled]:
        """The scheduled messages Slack still holds (not yet posted or deleted), by time."""
        self._post_due()
        return sorted(self._scheduled.values(), key=lambda m: (m.post_at, m.id))

    def posted_scheduled(self) -> list[Call]:
        """The scheduled messages Slack has posted, as calls of SCHEDULED_POST."""
        self._post_due()
        return self.of(SCHEDULED_POST)

    def _post_due(self) -> None:
        now = self.now().timestamp()
        for m in sorted(self._scheduled.values(), key=lambda m: (m.post_at, m.id)):
            if m.post_at <= now:
                del self._scheduled[m.id]
                posted = {**m.body, "channel": m.channel, "scheduled_message_id": m.id}
                self.calls.append(Call(SCHEDULED_POST, posted, 200))

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"stub never saw the expected calls; saw {self.summary()}")
            await asyncio.sleep(0.01)

    def summary(self) -> list[tuple[str, int]]:
        return [(c.method, c.status) for c in self.calls]

    # ---- handlers ------------------------------------------------------------------------

    def _injected(self, method: str) -> web.Response | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        status, retry_after = queue.popleft()
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if status == 429:
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers=headers
            )
        return web.Response(status=status, text="internal error", headers=headers)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await _read_body(request)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self.calls.append(Call(method, body, 200))
            return web.json_response({"ok": False, "error": "invalid_auth"})
        failure = self._injected(method)
        if failure is not None:
            self.calls.append(Call(method, body, failure.status))
            return failure
        if method in self.hang:
            await self._released.wait()
            self.calls.append(Call(method, body, 504))
            return web.Response(status=504, text="hung")
        answer = self._answer(method, body)
        self.calls.append(Call(method, body, 200, response=answer))
        return web.json_response(answer)

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ts = f"1700000000.{next(self._ts):06d}"
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "team_id": self.team_id,
                "user": "iijmio",
            }
        if method in ("chat.postMessage", "chat.update"):
            if not body.get("channel"):
                return {"ok": False, "error": "channel_not_found"}
            if not body.get("text") and not body.get("blocks"):
                return {"ok": False, "error": "no_text"}
            return {"ok": True, "channel": body["channel"], "ts": body.get("ts") or ts}
        if method == "chat.postEphemeral":
            if not body.get("channel") or not body.get("user"):
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "message_ts": ts}
        if method.startswith("chat.schedule") or method == "chat.deleteScheduledMessage":
            self._post_due()
            return self._scheduling(method, body)
        if method == "conversations.open":
            users = str(body.get("users") or "")
            if not users:
                return {"ok": False, "error": "users_list_not_supplied"}
            return {"ok": True, "channel": {"id": "D" + users.split(",")[0]}}
        if method == "views.publish":
            view = body.get("view")
            if isinstance(view, str):
                view = json.loads(view)
            if not body.get("user_id") or not isinstance(view, dict):
                return {"ok": False, "error": "invalid_arguments"}
            return {"ok": True, "view": {"id": "V1", **view}}
        return {"ok": False, "error": "unknown_method"}

    def _scheduling(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        now = int(self.now().timestamp())
        channel = str(body.get("channel") or "")
        if method == "chat.scheduleMessage":
            if not channel or channel[0] not in "CDG":
                return {"ok": False, "error": "channel_not_found"}
            if not body.get("text") and not body.get("blocks"):
                return {"ok": False, "error": "no_text"}
            try:
                post_at = int(body.get("post_at", ""))
            except (TypeError, ValueError):
                return {"ok": False, "error": "invalid_time"}
            if post_at <= now:
                return {"ok": False, "error": "time_in_past"}
            if post_at > now + SCHEDULE_MAX_AHEAD.total_seconds():
                return {"ok": False, "error": "time_too_far"}
            near = [
                m
                for m in self._scheduled.values()
                if m.channel == channel and abs(m.post_at - post_at) < SCHEDULE_WINDOW
            ]
            if len(near) >= SCHEDULE_WINDOW_MAX:
                return {"ok": False, "error": "restricted_too_many"}
            sid = f"Q0{next(self._scheduled_ids):08d}"
            self._scheduled[sid] = Scheduled(sid, channel, post_at, now, dict(body))
            message = {
                "type": "delayed_message",
                "subtype": "bot_message",
                "bot_id": BOT_ID,
                "text": body.get("text", ""),
            }
            return {
                "ok": True,
                "channel": channel,
                "scheduled_message_id": sid,
                "post_at": post_at,
                "message": message,
            }
        if method == "chat.deleteScheduledMessage":
            sid = str(body.get("scheduled_message_id") or "")
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            found = self._scheduled.get(sid)
            if found is None or found.channel != channel:
                return {"ok": False, "error": "invalid_scheduled_message_id"}
            del self._scheduled[sid]
            return {"ok": True}
        if method == "chat.scheduledMessages.list":
            oldest = int(body.get("oldest") or 0)
            latest = int(body.get("latest") or 2**63)
            if oldest > latest:
                return {"ok": False, "error": "invalid_arguments"}
            listed = [
                {
                    "id": m.id,
                    "channel_id": m.channel,
                    "post_at": m.post_at,
                    "date_created": m.date_created,
                    "text": m.body.get("text", ""),
                }
                for m in sorted(self._scheduled.values(), key=lambda m: (m.post_at, m.id))
                if (not channel or m.channel == channel) and oldest <= m.post_at <= latest
            ]
            return {
                "ok": True,
                "scheduled_messages": listed,
                "response_metadata": {"next_cursor": ""},
            }
        return {"ok": False, "error": "unknown_method"}

    async def _respond(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await _read_body(request)
        failure = self._injected("response_url")
        if failure is not None:
            self.calls.append(Call("response_url", body, failure.status, name))
            return failure
        self._uses[name] += 1
        if self._uses[name] > RESPONSE_URL_USES:
            self.calls.append(Call("response_url", body, 404, name))
            return web.Response(status=404, text="expired_url")
        self.calls.append(Call("response_url", body, 200, name))
        return web.Response(status=200, text="ok")


async def _read_body(request: web.Request) -> dict[str, Any]:
    """Arguments the way Slack reads them: query string, form or JSON body."""
    args: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if not raw:
        return args
    if request.content_type == "application/json":
        data = json.loads(raw)
        return {**args, **data} if isinstance(data, dict) else args
    return {**args, **dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))}


# ---- the bot under test, served over real HTTP ----------------------------------------------

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1111-2222-test"
TEAM_ID = "T0TEST"


def sign(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Headers exactly as Slack signs a request: v0=HMAC-SHA256(secret, 'v0:ts:body')."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


class AsgiServer:
    """Any ASGI app on uvicorn, on a free 127.0.0.1 port, in the test's own event loop."""

    def __init__(
        self, app: Any, *, lifespan: Literal["on", "off"] = "off", path: str = "/slack/events"
    ) -> None:
        self._app = app
        self._lifespan = lifespan
        self._path = path
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None
        self.base = ""
        self.url = ""

    async def start(self) -> None:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app, lifespan=self._lifespan, log_config=None, access_log=False
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        self.base = f"http://127.0.0.1:{port}"
        self.url = self.base + self._path

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            await self._task


class BotServer(AsgiServer):
    """A Starlette app with POST /slack/events → SlackBot.handle."""

    def __init__(self, bot: Any) -> None:
        from starlette.applications import Starlette
        from starlette.routing import Route

        self.bot = bot
        super().__init__(Starlette(routes=[Route("/slack/events", bot.handle, methods=["POST"])]))

    async def start(self) -> None:
        await self.bot.start()
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.bot.stop()


@dataclass
class SlackClient:
    """Sends what Slack sends: form-encoded commands and actions, JSON events, all signed."""

    http: Any  # httpx.AsyncClient
    url: str
    stub: SlackStub
    team_id: str = TEAM_ID
    _n: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        extra: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        ts = int(time.time()) if timestamp is None else timestamp
        hdrs = {"Content-Type": content_type, **sign(body, ts), **(extra or {})}
        if headers is not None:
            hdrs = {"Content-Type": content_type, **headers}
        return await self.http.post(self.url, content=body, headers=hdrs)

    async def command(self, text: str, *, user: str = "U0ALICE", url_name: str = "") -> Any:
        n = next(self._n)
        form = {
            "token": "legacy-unused",
            "team_id": self.team_id,
            "team_domain": "example",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": user,
            "user_name": "alice",
            "command": "/iijmio",
            "text": text,
            "api_app_id": "A0APP",
            "is_enterprise_install": "false",
            "response_url": self.stub.response_url(url_name or f"cmd{n}"),
            "trigger_id": f"{n}.1234.abcdef{n}",
        }
        return await self.post(urlencode(form).encode(), "application/x-www-form-urlencoded")

    def action_payload(
        self,
        element: dict[str, Any],
        *,
        user: str = "U0ALICE",
        url_name: str | None = "act",
        message_ts: str = "1700000000.000100",
        action_ts: str | None = None,
        selected_date: str | None = None,
        container: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A block_actions payload for a click on one of the elements we rendered."""
        action: dict[str, Any] = {
            "action_id": element["action_id"],
            "block_id": "b1",
            "type": element["type"],
            "action_ts": action_ts or f"1700000{next(self._n):03d}.000200",
        }
        if element["type"] == "button":
            action["value"] = element.get("value", "")
            action["text"] = element["text"]
        if element["type"] == "datepicker":
            action["selected_date"] = selected_date
            action["initial_date"] = element.get("initial_date")
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": "alice", "team_id": self.team_id},
            "api_app_id": "A0APP",
            "token": "legacy-unused",
            "container": container
            or {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": "C0GENERAL",
                "is_ephemeral": True,
            },
            "trigger_id": "9.9.abc",
            "team": {"id": self.team_id, "domain": "example"},
            "channel": {"id": "C0GENERAL", "name": "general"},
            "actions": [action],
        }
        if url_name is not None:
            payload["response_url"] = self.stub.response_url(url_name)
        return payload

    async def action(self, payload: dict[str, Any]) -> Any:
        body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()
        return await self.post(body, "application/x-www-form-urlencoded")

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None
    ) -> Any:
        envelope = {
            "token": "legacy-unused",
            "team_id": self.team_id,
            "api_app_id": "A0APP",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._n):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": BOT_USER_ID, "is_bot": True}],
        }
        extra = {}
        if retry is not None:
            extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return await self.post(body, "application/json", extra=extra)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e
        for b in blocks
        if b.get("type") == "actions"
        for e in b["elements"]
        if e.get("type") == "button" and "value" in e
    ]


def button(blocks: list[dict[str, Any]], label: str) -> dict[str, Any]:
    for e in buttons(blocks):
        if e["text"]["text"] == label:
            return e
    raise AssertionError(f"no button {label!r} in {[e['text']['text'] for e in buttons(blocks)]}")


def datepicker(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    for b in blocks:
        acc = b.get("accessory")
        if isinstance(acc, dict) and acc.get("type") == "datepicker":
            return acc
    raise AssertionError("no datepicker in the message")


def all_text(body: dict[str, Any]) -> str:
    """Everything a user can read in a posted message (blocks and fallback text)."""
    return json.dumps(body.get("blocks", []), ensure_ascii=False) + str(body.get("text", ""))


@dataclass
class Env:
    stub: SlackStub
    server: BotServer
    slack: SlackClient
    runner: Any

    async def idle(self) -> None:
        """Every turn the bot has acknowledged so far has been delivered (or failed)."""
        await self.server.bot.idle()


@contextlib.asynccontextmanager
async def running_bot(
    redis_url: str, now: datetime, *, store: Any = None, **bot_kw: Any
) -> AsyncIterator[Env]:
    """The real pieces: Redis store, shipped dialogue, fixed clock, SlackBot over HTTP.
    store: a session store built by the test on redis_url, used instead (closed here)."""
    import httpx

    from adapters.slack import SlackBot
    from core.clock import FixedClock
    from core.dialogue import default_dialogue
    from core.store.redis import RedisSessionStore
    from core.turn import TurnRunner

    stub = SlackStub(token=BOT_TOKEN, team_id=TEAM_ID)
    await stub.start()
    if store is None:
        store = RedisSessionStore(redis_url)
    runner = TurnRunner(store, default_dialogue(), FixedClock(now))
    bot = SlackBot(
        signing_secret=SIGNING_SECRET,
        bot_token=BOT_TOKEN,
        api_url=stub.api_url,
        runner=runner,
        **bot_kw,
    )
    server = BotServer(bot)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            yield Env(stub, server, SlackClient(http, server.url, stub), runner)
    finally:
        await server.stop()
        await store.close()
        await stub.stop()
