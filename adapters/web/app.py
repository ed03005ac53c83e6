"""The web chat: the page, its script and style, the embed snippet, and one JSON endpoint
that runs a turn through the TurnRunner like every other platform.

Routes (mounted at /web by bots/server.py):
  GET  /            the chat page          GET /chat.js, /chat.css   its script and style
  GET  /embed.js    the floating button for help pages (IIJBOT_WEB_ORIGINS)
  POST /api/turn    {"open": true} | {"text"} | {"choice", "node"} | {"date", "node"}
  POST /api/clock   development only: {"now": ISO-8601 | null}, the terminal chat's --now
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from html import escape
from importlib.resources import files
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.web.guard import MAX_BODY, MAX_TEXT, Origins, RateLimits, SlidingWindow
from adapters.web.render import reply_json
from adapters.web.session import COOKIE, SessionCookies
from adapters.web.texts import say
from core.clock import JST
from core.inbound import ConversationKey, Inbound, InboundKind
from core.metrics import TURNS
from core.reply import Reply
from core.turn import StoreUnavailable, TurnConflict, TurnRunner

log = logging.getLogger("iijbot.web")

PLATFORM = "web"
STATIC = files("adapters.web") / "static"
# No inline script anywhere, so the policy can forbid it; frame-ancestors is filled in
# with the allowed origins so only their pages can frame the chat.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'{extra}"
)
DevPreviews = Callable[[Reply], dict[str, Any]]
SetClock = Callable[[datetime | None], None]


class BadTurn(ValueError):
    """The body is not one of the turn shapes."""


@dataclass(frozen=True)
class DevTools:
    """What the inspector needs that the web adapter must not import itself: the other
    platforms' renderers and the clock override, handed in by bots/server.py."""

    previews: DevPreviews
    set_clock: SetClock


@dataclass
class WebChat:
    runner: TurnRunner
    secret: str
    origins: Origins
    session_ttl: int
    limits: RateLimits = field(default_factory=RateLimits)
    dev: DevTools | None = None

    def __post_init__(self) -> None:
        self._cookies = SessionCookies(self.secret)
        self._per_session = SlidingWindow(self.limits.per_session, self.limits.window)
        self._per_address = SlidingWindow(self.limits.per_address, self.limits.window)
        frame = "".join(f" {o}" for o in self.origins.listed)
        self._csp = CSP.format(extra=frame)

    # ---- the page and its files ------------------------------------------------------

    async def page(self, request: Request) -> Response:
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        for key, text in self._page_texts().items():
            html = html.replace("{{" + key + "}}", escape(text))
        html = html.replace("{{dev}}", "1" if self.dev is not None else "0")
        return Response(html, media_type="text/html; charset=utf-8", headers=self._headers())

    def _page_texts(self) -> dict[str, str]:
        # Each written out, so the texts lint sees every key used.
        return {
            "page_title": say("page_title"),
            "page_intro": say("page_intro"),
            "input_label": say("input_label"),
            "input_placeholder": say("input_placeholder"),
            "send": say("send"),
            "date_send": say("date_send"),
            "typing": say("typing"),
            "log_label": say("log_label"),
            "choices_label": say("choices_label"),
            "network_error": say("network_error"),
            "restart": say("restart"),
            "inspector_title": say("inspector_title"),
            "clock_label": say("clock_label"),
            "clock_set": say("clock_set"),
        }

    def _headers(self) -> dict[str, str]:
        return {
            "Content-Security-Policy": self._csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        }

    async def script(self, request: Request) -> Response:
        return _asset("chat.js", "text/javascript")

    async def style(self, request: Request) -> Response:
        return _asset("chat.css", "text/css")

    async def embed(self, request: Request) -> Response:
        """The snippet a help page loads: it opens the chat in an iframe, and only on the
        allowed origins (the chat page's frame-ancestors enforces it in the browser)."""
        script = (STATIC / "embed.js").read_text(encoding="utf-8")
        config = {
            "chat": str(
                request.url.replace(path=request.url.path.removesuffix("embed.js"), query="")
            ),
            "origins": list(self.origins.listed),
            "open": say("open_chat"),
            "close": say("close_chat"),
        }
        script = script.replace("__CONFIG__", json.dumps(config, ensure_ascii=False))
        return Response(
            script,
            media_type="text/javascript; charset=utf-8",
            headers={
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-cache",
                # A help page on another origin loads it with a plain <script src>.
                "Cross-Origin-Resource-Policy": "cross-origin",
            },
        )

    # ---- the API ------------------------------------------------------------------------

    async def turn(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        body = await _read_limited(request)
        if body is None:
            return _error(413, "too_large", say("bad_request"))
        session_id = self._cookies.load(request.cookies.get(COOKIE))
        fresh = session_id is None
        address = request.client.host if request.client else "-"
        if not self._per_address.allow(address):
            return _error(429, "rate_limited", say("too_many"))
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "bad_json", say("bad_request"))
        if not isinstance(payload, dict):
            return _error(400, "bad_json", say("bad_request"))
        if payload.get("reset") is True and self.dev is not None:
            fresh, session_id = True, None  # 「最初から」 of the inspector: a new conversation
        if session_id is None:
            session_id = self._cookies.new_id()
        if not self._per_session.allow(session_id):
            return _error(429, "rate_limited", say("too_many"))
        key = ConversationKey(PLATFORM, _site(request), session_id)
        try:
            response = await self._answer(key, payload)
        except BadTurn:
            return _error(400, "bad_turn", say("bad_request"))
        except StoreUnavailable:
            return _error(503, "store_unavailable", say("store_unavailable"))
        except TurnConflict:
            return _error(409, "busy", say("busy"))
        except Exception:
            # A bug: the page shows a short apology (its JSON, not Starlette's bare 500);
            # the log keeps the exception, never the message text.
            log.exception("web turn failed")
            TURNS.labels(PLATFORM, "error").inc()
            return _error(500, "failed", say("failed"))
        if fresh:
            response.set_cookie(
                COOKIE,
                self._cookies.dump(session_id),
                max_age=self.session_ttl,
                path="/web",
                httponly=True,
                secure=request.url.scheme == "https",
                samesite="lax",
            )
        return response

    def _refuse(self, request: Request) -> Response | None:
        own = f"{request.url.scheme}://{request.url.netloc}"
        if not self.origins.allows(request.headers.get("origin"), own):
            return _error(403, "origin", say("bad_request"))
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return _error(415, "content_type", say("bad_request"))
        length = request.headers.get("content-length")
        if length is not None and (not length.isdecimal() or int(length) > MAX_BODY):
            return _error(413, "too_large", say("bad_request"))
        return None

    async def _answer(self, key: ConversationKey, payload: dict[str, Any]) -> JSONResponse:
        inbound = _inbound(key, payload)
        before = None
        if self.dev is not None:
            before = await self._inspect_before(key, inbound)
        if inbound is None:  # open: the question a live conversation waits on, else START
            pending = await self.runner.pending(key)
            if pending is not None:
                return await self._reply(pending, False, key, before)
            inbound = Inbound(key, InboundKind.START)
        outcome = await self.runner.run(inbound)
        if outcome.reply is None:  # a redelivery: nothing new to show
            return JSONResponse({"reply": None, "ended": False})
        return await self._reply(outcome.reply, outcome.ended, key, before)

    async def _reply(
        self, reply: Reply, ended: bool, key: ConversationKey, before: dict[str, Any] | None
    ) -> JSONResponse:
        body: dict[str, Any] = {"reply": reply_json(reply), "ended": ended}
        if self.dev is not None and before is not None:
            stored = await self.runner.stored(key)
            body["inspect"] = before | {
                "node_after": reply.node,
                "session": None if stored is None else json.loads(stored),
                **self.dev.previews(reply),
            }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def _inspect_before(
        self, key: ConversationKey, inbound: Inbound | None
    ) -> dict[str, Any]:
        expect = await self.runner.expectation(key)
        out: dict[str, Any] = {"node_before": expect.node}
        if inbound is not None and inbound.kind is InboundKind.TEXT:
            intent = await self.runner.understanding(key, inbound.text)
            out["understood"] = _plain(asdict(intent))
            # Every topic the words scored for, best first: the runner-up is the second.
            out["ranking"] = [list(kv) for kv in self.runner.topic_ranking(inbound.text)]
        return out

    async def clock(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None or self.dev is None:
            return refused or _error(404, "not_found", say("bad_request"))
        body = await _read_limited(request)
        try:
            payload = json.loads(body or b"")
            raw = payload.get("now") if isinstance(payload, dict) else None
            at = None if not raw else datetime.fromisoformat(str(raw))
        except ValueError:
            return _error(400, "bad_clock", say("bad_request"))
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=JST)  # naive = JST, as `chat --now` reads it
        self.dev.set_clock(at)
        return JSONResponse({"now": None if at is None else at.isoformat()})


def web_routes(chat_of: Callable[[Request], WebChat | None], *, dev: bool) -> list[BaseRoute]:
    """The routes under /web. The chat itself is built when the server starts (its runner
    needs the running event loop), so each route finds it through `chat_of`."""
    table: list[tuple[str, str, str]] = [
        ("/", "page", "GET"),
        ("/chat.js", "script", "GET"),
        ("/chat.css", "style", "GET"),
        ("/embed.js", "embed", "GET"),
        ("/api/turn", "turn", "POST"),
    ]
    if dev:
        table.append(("/api/clock", "clock", "POST"))
    return [Route(path, _delegate(chat_of, name), methods=[method]) for path, name, method in table]


def _delegate(
    chat_of: Callable[[Request], WebChat | None], name: str
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        chat = chat_of(request)
        if chat is None:  # the lifespan did not run or is shutting down
            return _error(503, "not_running", say("store_unavailable"))
        handler: Callable[[Request], Awaitable[Response]] = getattr(chat, name)
        return await handler(request)

    endpoint.__name__ = f"web_{name}"
    return endpoint


def _asset(name: str, media_type: str) -> Response:
    return Response(
        (STATIC / name).read_text(encoding="utf-8"),
        media_type=f"{media_type}; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )


def _inbound(key: ConversationKey, payload: dict[str, Any]) -> Inbound | None:
    """The body as an Inbound; None for {"open": true} (and the inspector's reset)."""
    node = payload.get("node")
    if node is not None and (not isinstance(node, str) or len(node) > 100):
        raise BadTurn("node")
    if "text" in payload:
        text = payload["text"]
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise BadTurn("text")
        return Inbound(key, InboundKind.TEXT, text=text)
    if "choice" in payload:
        value = payload["choice"]
        if not isinstance(value, str) or not value or len(value) > 300:
            raise BadTurn("choice")
        return Inbound(key, InboundKind.CHOICE, choice_value=value, choice_node=node)
    if "date" in payload:
        raw = payload["date"]
        try:
            picked = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
        except ValueError:
            picked = None
        # An impossible date is the dialogue's to answer (BAD_DATE), like LINE's picker.
        return Inbound(key, InboundKind.DATE, date=picked, choice_node=node)
    if payload.get("open") is True or payload.get("reset") is True:
        return None
    raise BadTurn("shape")


def _plain(value: Any) -> Any:
    """Dates as ISO strings, tuples as lists: what understanding made of a text, as JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v not in (None, (), "")}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _site(request: Request) -> str:
    host = (request.url.hostname or "-").lower()
    return "".join(ch for ch in host if ch.isalnum() or ch in ".-")[:100] or "-"


async def _read_limited(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_BODY (a chunked body has no Content-Length)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return body


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)
