"""A local stand-in for api.line.me, and a harness that runs the real LINE webhook
against it over HTTP with a real Redis behind the turn runner.

The stub answers like LINE does for the calls the bot makes: reply tokens are
single-use (400 "Invalid reply token" on reuse or when unknown), pushes honour
X-Line-Retry-Key (409 for a key already accepted), every answer carries an
x-line-request-id, a wrong bearer token gets 401. Tests can queue failures (429, 500,
an invalid reply token) and read back what the user would have received.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.line import LineBot
from core.clock import Clock

ACCESS_TOKEN = "stub-access-token"
STALL_SECONDS = 3.0
CHANNEL_SECRET = "stub-channel-secret-0123456789ab"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or raw bytes for uploads
    status: int


@dataclass
class Delivered:
    """A message batch LINE accepted for the user (what they would see)."""

    method: str  # "reply" or "push"
    target: str  # reply token or push "to"
    messages: list[dict[str, Any]]
    retry_key: str | None = None


@dataclass
class LineStub:
    token: str = ACCESS_TOKEN
    requests: list[Recorded] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)
    valid_reply_tokens: set[str] = field(default_factory=set)
    accepted_retry_keys: dict[str, str] = field(default_factory=dict)
    rich_menus: dict[str, dict[str, Any]] = field(default_factory=dict)
    rich_menu_images: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    default_rich_menu: str | None = None
    # path -> queue of (status, body) to answer instead of the normal behaviour
    failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    # pushes LINE accepts (and delivers) but answers with 500, as after a lost response
    accept_then_fail_pushes: int = 0
    # path -> gate: a call to that path is recorded, then answered only once the gate opens
    gates: dict[str, asyncio.Event] = field(default_factory=dict)

    def hold(self, path: str) -> asyncio.Event:
        """Make calls to `path` hang (a slow LINE) until the returned event is set."""
        gate = self.gates[path] = asyncio.Event()
        return gate

    reply_delay: float = 0.0  # seconds every reply takes: a slow LINE API
    # replies that get no answer for STALL_SECONDS and are not delivered (a hung API)
    stall_replies: int = 0

    def issue_reply_token(self) -> str:
        tok = uuid.uuid4().hex
        self.valid_reply_tokens.add(tok)
        return tok

    def fail_next(self, path: str, status: int, message: str = "stubbed failure") -> None:
        self.failures.setdefault(path, []).append((status, {"message": message}))

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v2/bot/message/reply", self._reply, methods=["POST"]),
                Route("/v2/bot/message/push", self._push, methods=["POST"]),
                Route("/v2/bot/chat/loading/start", self._loading, methods=["POST"]),
                Route("/v2/bot/richmenu/validate", self._rm_validate, methods=["POST"]),
                Route("/v2/bot/richmenu", self._rm_create, methods=["POST"]),
                Route("/v2/bot/richmenu/{rid}/content", self._rm_content, methods=["POST"]),
                Route("/v2/bot/user/all/richmenu/{rid}", self._rm_default, methods=["POST"]),
            ]
        )

    # --- plumbing ---

    async def _enter(self, request: Request) -> tuple[Any, Response | None]:
        raw = await request.body()
        ctype = request.headers.get("content-type", "")
        body: Any = json.loads(raw) if "json" in ctype and raw else raw
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = request.url.path
        rec = Recorded(request.method, path, headers, body, 0)
        self.requests.append(rec)
        request.state.recorded = rec  # calls held at a gate finish out of order
        gate = self.gates.get(path)
        if gate is not None:
            await gate.wait()
        early: Response | None = None
        if headers.get("authorization") != f"Bearer {self.token}":
            early = self._answer(401, {"message": "Authentication failed"})
        else:
            queue = self.failures.get(path)
            if queue:
                status, payload = queue.pop(0)
                early = self._answer(status, payload)
        if early is not None:
            rec.status = early.status_code
        return body, early

    @staticmethod
    def _answer(status: int, payload: dict[str, Any], **headers: str) -> Response:
        h = {"x-line-request-id": str(uuid.uuid4()), **headers}
        return JSONResponse(payload, status_code=status, headers=h)

    def _finish(self, request: Request, resp: Response) -> Response:
        request.state.recorded.status = resp.status_code
        return resp

    @staticmethod
    def _sent(body: dict[str, Any]) -> dict[str, Any]:
        sent = [
            {"id": uuid.uuid4().hex[:18], "quoteToken": uuid.uuid4().hex} for _ in body["messages"]
        ]
        return {"sentMessages": sent}

    @staticmethod
    def _messages_ok(body: Any) -> bool:
        msgs = body.get("messages") if isinstance(body, dict) else None
        return isinstance(msgs, list) and 1 <= len(msgs) <= 5

    # --- endpoints ---

    async def _reply(self, request: Request) -> Response:
        body, early = await self._enter(request)
        if early is not None:
            return early
        if self.stall_replies > 0:
            self.stall_replies -= 1
            await asyncio.sleep(STALL_SECONDS)
            return self._finish(request, self._answer(500, {"message": "stalled"}))
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        if not self._messages_ok(body):
            return self._finish(request, self._answer(400, {"message": "bad messages"}))
        token = body.get("replyToken", "")
        if token not in self.valid_reply_tokens:
            return self._finish(request, self._answer(400, {"message": "Invalid reply token"}))
        self.valid_reply_tokens.discard(token)
        self.delivered.append(Delivered("reply", token, body["messages"]))
        return self._finish(request, self._answer(200, self._sent(body)))

    async def _push(self, request: Request) -> Response:
        body, early = await self._enter(request)
        if early is not None:
            return early
        if not self._messages_ok(body) or not body.get("to"):
            return self._finish(request, self._answer(400, {"message": "bad push"}))
        key = request.headers.get("x-line-retry-key")
        if key is not None:
            try:
                uuid.UUID(key)
            except ValueError:
                return self._finish(request, self._answer(400, {"message": "bad retry key"}))
            if key in self.accepted_retry_keys:
                return self._finish(
                    request,
                    self._answer(
                        409,
                        {"message": "The retry key is already accepted"},
                        **{"x-line-accepted-request-id": self.accepted_retry_keys[key]},
                    ),
                )
            self.accepted_retry_keys[key] = str(uuid.uuid4())
        self.delivered.append(Delivered("push", body["to"], body["messages"], key))
        if self.accept_then_fail_pushes > 0:
            self.accept_then_fail_pushes -= 1
            return self._finish(request, self._answer(500, {"message": "Internal error"}))
        return self._finish(request, self._answer(200, self._sent(body)))

    async def _loading(self, request: Request) -> Response:
        _, early = await self._enter(request)
        if early is not None:
            return early
        return self._finish(request, self._answer(202, {}))

    async def _rm_validate(self, request: Request) -> Response:
        body, early = await self._enter(request)
        if early is not None:
            return early
        ok = isinstance(body, dict) and isinstance(body.get("areas"), list) and body["areas"]
        return self._finish(request, self._answer(200 if ok else 400, {}))

    async def _rm_create(self, request: Request) -> Response:
        body, early = await self._enter(request)
        if early is not None:
            return early
        rid = f"richmenu-{uuid.uuid4().hex}"
        self.rich_menus[rid] = body
        return self._finish(request, self._answer(200, {"richMenuId": rid}))

    async def _rm_content(self, request: Request) -> Response:
        body, early = await self._enter(request)
        if early is not None:
            return early
        rid = request.path_params["rid"]
        if rid not in self.rich_menus:
            return self._finish(request, self._answer(404, {"message": "Not found"}))
        self.rich_menu_images[rid] = (request.headers.get("content-type", ""), bytes(body))
        return self._finish(request, self._answer(200, {}))

    async def _rm_default(self, request: Request) -> Response:
        _, early = await self._enter(request)
        if early is not None:
            return early
        rid = request.path_params["rid"]
        if rid not in self.rich_menus:
            return self._finish(request, self._answer(404, {"message": "Not found"}))
        self.default_rich_menu = rid
        return self._finish(request, self._answer(200, {}))


# --- serving ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app over real HTTP on a free 127.0.0.1 port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def sign(body: bytes, secret: str = CHANNEL_SECRET) -> str:
    """X-Line-Signature exactly as LINE computes it: base64(HMAC-SHA256(secret, body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# --- the harness ------------------------------------------------------------------------


@dataclass
class LineHarness:
    stub: LineStub
    bot_url: str
    http: httpx.AsyncClient
    bot: LineBot | None  # None: the bot runs in another process (nothing to drain here)
    # The time the bot's clock says: events are stamped as LINE stamps them, just before.
    now: datetime | None = None
    clock: Clock | None = None  # a clock the test moves: events follow it (overrides now)
    _n: int = 0

    @property
    def webhook(self) -> str:
        return f"{self.bot_url}/line/webhook"

    async def post_raw(self, body: bytes, signature: str | None) -> httpx.Response:
        headers = {"content-type": "application/json; charset=utf-8"}
        if signature is not None:
            headers["x-line-signature"] = signature
        resp = await self.http.post(self.webhook, content=body, headers=headers)
        # Replies leave in the background after the 200; wait for them (not for a time).
        if self.bot is not None:
            await self.bot.drain()
        return resp

    async def send(self, *events: dict[str, Any]) -> httpx.Response:
        body = json.dumps(
            {"destination": "Ubot", "events": list(events)}, ensure_ascii=False
        ).encode("utf-8")
        return await self.post_raw(body, sign(body))

    def event(
        self,
        etype: str,
        *,
        user: str = "U1111",
        group: str | None = None,
        room: str | None = None,
        event_id: str | None = None,
        reply_token: str | bool | None = True,
        redelivery: bool = False,
        **fields: Any,
    ) -> dict[str, Any]:
        self._n += 1
        source: dict[str, Any] = {"type": "user", "userId": user}
        if group is not None:
            source = {"type": "group", "groupId": group, "userId": user}
        elif room is not None:
            source = {"type": "room", "roomId": room, "userId": user}
        ev: dict[str, Any] = {
            "type": etype,
            "mode": "active",
            "timestamp": self.timestamp_ms() + self._n,
            "source": source,
            "webhookEventId": event_id or f"01J{uuid.uuid4().hex[:23].upper()}",
            "deliveryContext": {"isRedelivery": redelivery},
            **fields,
        }
        if reply_token is True:
            ev["replyToken"] = self.stub.issue_reply_token()
        elif isinstance(reply_token, str):
            ev["replyToken"] = reply_token
        return ev

    def timestamp_ms(self) -> int:
        """Milliseconds since the epoch, as LINE's `timestamp`: a few seconds before now."""
        now = self.clock.now() if self.clock is not None else self.now
        if now is None:
            return 1_780_000_000_000
        return int(now.timestamp() * 1000) - 5_000

    def text(self, text: str, **kw: Any) -> dict[str, Any]:
        # No quoteToken, as older clients send it: the SDK would call this an UnknownEvent.
        return self.event("message", message={"type": "text", "id": "1", "text": text}, **kw)

    def postback(
        self, data: str, params: dict[str, str] | None = None, **kw: Any
    ) -> dict[str, Any]:
        pb: dict[str, Any] = {"data": data}
        if params is not None:
            pb["params"] = params
        return self.event("postback", postback=pb, **kw)


def make_bot_app(bot: LineBot) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bot.start()
        try:
            yield
        finally:
            await bot.stop()

    return Starlette(
        routes=[Route("/line/webhook", bot.handle, methods=["POST"])], lifespan=lifespan
    )


@contextlib.asynccontextmanager
async def line_harness(
    redis_url: str,
    now: datetime,
    *,
    clock: Clock | None = None,
    hash_key: bytes | None = None,
    runner: Any = None,
    **bot_kw: Any,
) -> AsyncIterator[LineHarness]:
    """The real runner (Redis store, the shipped flow, a fixed clock unless `clock` is given)
    behind the real LINE adapter, served over HTTP, talking to the stub over HTTP. runner:
    one built by the test (another clock, a handoff desk), used instead."""
    from core.clock import FixedClock
    from core.dialogue import default_dialogue
    from core.store import RedisSessionStore
    from core.turn import TurnRunner

    stub = LineStub()
    store = RedisSessionStore(redis_url)
    if runner is None:
        runner = TurnRunner(store, default_dialogue(), clock or FixedClock(now), hash_key=hash_key)
    try:
        async with serve(stub.app()) as stub_url:
            bot = LineBot(
                channel_secret=CHANNEL_SECRET,
                access_token=ACCESS_TOKEN,
                api_base_url=stub_url,
                runner=runner,
                **bot_kw,
            )
            async with serve(make_bot_app(bot)) as bot_url, httpx.AsyncClient(timeout=30) as http:
                yield LineHarness(stub=stub, bot_url=bot_url, http=http, bot=bot, now=now)
    finally:
        await store.close()
