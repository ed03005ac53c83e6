"""The ASGI server: composes the store, the dialogue, the turn runner and the platform adapters.

Nothing connects at import time. The lifespan builds everything inside the running event loop
(the LINE SDK's aiohttp session and the async Redis pool bind to it) and tears it down on
shutdown. A platform is mounted only when both of its secrets are set (Settings.line /
Settings.slack); its route does not exist otherwise, so a stray webhook gets a plain 404.
One factory per platform turns its settings into its bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import secrets
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import core.metrics  # noqa: F401  (registers the iijbot_ metrics so /metrics always lists them)
from adapters.line import LineBot
from adapters.line.flood import FloodGate
from adapters.slack import SlackBot
from adapters.slack.desk import SlackDesk
from adapters.web import Origins, WebChat, web_routes
from bots.body_limit import MAX_BODY_BYTES, BodyLimitMiddleware
from bots.reminders import ReminderRuntime
from bots.settings import LineSettings, Settings, SettingsError, SlackSettings
from core.clock import Clock, SystemClock
from core.handoff import HandoffSetup
from core.remind.worker import DEFAULT_INTERVAL as DEFAULT_REMINDER_INTERVAL
from core.store import store_from_url
from core.store.base import SessionStore
from core.store.handoffs import index_for
from core.turn import Dialogue, TurnRunner

log = logging.getLogger("iijbot.server")

READY_TIMEOUT = 1.5  # seconds: a probe must get an answer well inside its own timeout
# The shutdown budget, in seconds after SIGTERM. uvicorn first lets webhooks in flight
# finish (REQUEST_GRACE; a webhook runs its turns inline, a few Redis round trips), then the
# lifespan stops the adapters, which deliver every reply already committed (REPLY_DRAIN:
# LINE's push retries included), then closes the store. A reply dropped here is a
# committed answer the user never sees, so the container's grace period must cover all of
# it: deploy/compose.yaml stop_grace_period ≥ SHUTDOWN_SECONDS, deploy/k8s
# terminationGracePeriodSeconds ≥ its preStop pause + SHUTDOWN_SECONDS
# (tests/unit/test_deploy_files.py checks both).
REQUEST_GRACE = 10
REPLY_DRAIN = 20.0
STOP_TIMEOUT = REPLY_DRAIN + 5.0  # the adapters together: their drain, then closing clients
SHUTDOWN_SECONDS = REQUEST_GRACE + STOP_TIMEOUT


class PlatformBot(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def handle(self, request: Request) -> Response: ...


def line_bot(line: LineSettings, runner: TurnRunner) -> PlatformBot:
    return LineBot(
        channel_secret=line.channel_secret,
        access_token=line.api.access_token,
        api_base_url=line.api.base_url,
        runner=runner,
        drain_timeout=REPLY_DRAIN,
        redelivery=line.webhook_redelivery,
        flood=FloodGate(burst=line.flood_burst) if line.flood_burst else None,
    )


def slack_bot(
    slack: SlackSettings, runner: TurnRunner, desk: SlackDesk | None = None
) -> PlatformBot:
    return SlackBot(
        signing_secret=slack.signing_secret,
        bot_token=slack.bot_token,
        api_url=slack.api_url,
        runner=runner,
        desk=desk,
    )


def handoff_desk(settings: Settings) -> SlackDesk | None:
    """The support channel's handoff cards, when SLACK_HANDOFF_CHANNEL is set and Slack is
    mounted (its interactivity URL receives the cards' buttons)."""
    channel = settings.handoff_desk
    if channel is None or settings.slack is None:
        return None
    slack = settings.slack
    return SlackDesk(bot_token=slack.bot_token, api_url=slack.api_url, channel=channel)


@dataclass(frozen=True)
class _Mount:
    """A configured platform: where it listens and how its bot is built."""

    name: str
    route: str
    build: Callable[[TurnRunner], PlatformBot]


def _mounts(settings: Settings, desk: SlackDesk | None) -> list[_Mount]:
    mounts: list[_Mount] = []
    if settings.line is not None:
        mounts.append(_Mount("line", "/line/webhook", partial(line_bot, settings.line)))
    if settings.slack is not None:
        build = partial(slack_bot, settings.slack, desk=desk)
        mounts.append(_Mount("slack", "/slack/events", build))
    return mounts


def _not_mounted(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Each platform that is not mounted, with the variables it lacks."""
    out: dict[str, tuple[str, ...]] = {}
    if settings.line is None:
        out["line"] = settings.line_missing
    if settings.slack is None:
        out["slack"] = settings.slack_missing
    return out


@dataclass
class _Runtime:
    """What the lifespan built; routes read it from app.state.runtime."""

    store: SessionStore | None = None
    bots: dict[str, PlatformBot] = field(default_factory=dict)
    web: WebChat | None = None
    reminders: ReminderRuntime | None = None
    ready: bool | None = None  # last readiness answer, so only changes are logged


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    reminder_interval: float = DEFAULT_REMINDER_INTERVAL,
) -> Starlette:
    runtime = _Runtime()
    desk = handoff_desk(settings)
    mounts = _mounts(settings, desk)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await _start(runtime, settings, clock or SystemClock(), mounts, desk)
        if settings.reminder_worker and runtime.reminders is not None:
            await runtime.reminders.start_worker(reminder_interval)
        try:
            yield
        finally:
            await _stop(runtime)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if settings.metrics_token is not None:
        routes.append(Route("/metrics", _metrics(settings.metrics_token), methods=["GET"]))
    routes += [Route(m.route, _webhook(m.name), methods=["POST"]) for m in mounts]
    routes.append(Mount("/web", routes=web_routes(_web_chat, dev=settings.dev)))
    routes.append(Route("/calendar/{signed}", calendar_file, methods=["GET"]))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.runtime = runtime
    webhooks = {m.route: m.name for m in mounts}
    app.add_middleware(BodyLimitMiddleware, platforms=webhooks, limit=MAX_BODY_BYTES)
    app.add_middleware(AccessLogMiddleware)  # outermost: a 413 is logged like any answer
    return app


async def _start(
    runtime: _Runtime,
    settings: Settings,
    clock: Clock,
    mounts: list[_Mount],
    desk: SlackDesk | None = None,
) -> None:
    # Imported here: the dialogue loads and validates its flow data, which belongs to startup,
    # not to `import bots.server`.
    from core.dialogue import default_dialogue

    if settings.redis_url is None:
        log.warning(
            "REDIS_URL is not set: sessions are kept in this process's memory, lost on restart "
            "and not shared with other replicas"
        )
    if settings.hash_key is None:
        # A deliberate choice (no report wanted), not a fault: info, not a warning.
        log.info("IIJBOT_HASH_KEY is not set: no events are recorded for the report")
    runtime.store = store_from_url(
        settings.redis_url,
        ttl=settings.session_ttl,
        events_retention_days=settings.events_retention_days,
    )
    if settings.redis_url is not None:
        await _warn_if_unreachable(runtime.store)
    dialogue = default_dialogue()
    runtime.reminders = ReminderRuntime(settings, runtime.store, clock)
    runner = TurnRunner(
        runtime.store,
        dialogue,
        clock,
        log_text=settings.log_text,
        hash_key=settings.hash_key_bytes,
        handoffs=HandoffSetup.build(
            desk=desk,
            index=index_for(runtime.store) if desk is not None else None,
            hours=settings.support_hours,
            ttl=settings.handoff_ttl,
        ),
        reminders=runtime.reminders.reminders,
    )
    if settings.handoff_channel and desk is None:
        log.warning(
            "SLACK_HANDOFF_CHANNEL is set but Slack is not mounted: a handoff gives the "
            "support phone number and web form instead"
        )
    runtime.web = _build_web(settings, runtime.store, dialogue, clock, runner)
    try:
        # Before the platforms: a turn on Slack schedules its reminders with Slack.
        await runtime.reminders.start()
        for m in mounts:
            bot = m.build(runner)
            await bot.start()
            runtime.bots[m.name] = bot
            log.info("platform mounted", extra={"platform": m.name, "route": m.route})
    except BaseException:
        await _stop(runtime)
        raise
    for name, missing in _not_mounted(settings).items():
        log.info("platform not mounted", extra={"platform": name, "missing": ",".join(missing)})
    log.info(
        "server started",
        extra={
            "store": "redis" if settings.redis_url else "memory",
            "platforms": ",".join(runtime.bots) or "none",
            "session_ttl": settings.session_ttl,
            "metrics": "token" if settings.metrics_token else "off",
        },
    )
    # What start-up built (flow, rules, lexicon, readings: ~180k objects) lives as long as
    # the process; left to the collector, every full collection walks all of it (~150 ms,
    # a stall for every request in flight). Frozen, the collector only sees what turns make;
    # the garbage of start-up goes first, or it would be kept for good.
    gc.collect()
    gc.freeze()


def _web_chat(request: Request) -> WebChat | None:
    web: WebChat | None = request.app.state.runtime.web
    return web


def _build_web(
    settings: Settings, store: SessionStore, dialogue: Dialogue, clock: Clock, runner: TurnRunner
) -> WebChat:
    """The web chat, always mounted at /web/. In development (IIJBOT_DEV=1) it gets its own
    runner on a clock the inspector can set, and the other platforms' renderers."""
    secret = settings.web_secret
    if secret is None:
        # One process (a laptop, a single replica) works fine; the k8s and compose examples
        # set it. Info, like an unset IIJBOT_HASH_KEY, so a sound server starts warning-free.
        log.info(
            "IIJBOT_WEB_SECRET is not set: web chat sessions are signed with a key of this "
            "process only, so they end on restart and are not shared between replicas"
        )
        secret = secrets.token_hex(32)
    dev = None
    if settings.dev:
        from bots.web_dev import DevClock, dev_tools

        log.warning(
            "IIJBOT_DEV=1: THE WEB INSPECTOR IS ON. It shows sessions, understanding and "
            "platform payloads to anyone who opens /web/ and lets them set the clock. "
            "Never run this in production."
        )
        dev_clock = DevClock(system=clock)
        dev = dev_tools(dev_clock)
        runner = TurnRunner(
            store,
            dialogue,
            dev_clock,
            log_text=settings.log_text,
            hash_key=settings.hash_key_bytes,
        )
    return WebChat(
        runner=runner,
        secret=secret,
        origins=Origins(settings.web_origins),
        session_ttl=settings.session_ttl,
        dev=dev,
    )


async def _warn_if_unreachable(store: SessionStore) -> None:
    # The server starts anyway: Redis may come up after the bot (compose, Kubernetes), and
    # /readyz keeps traffic away until it answers. But an operator reading the startup log
    # must not take "store=redis" for "Redis works".
    reason = await _unready_reason(store)
    if reason is not None:
        log.warning(
            "Redis does not answer: conversations cannot go on and /readyz answers 503 "
            "until it does",
            extra={"reason": reason},
        )


async def _stop(runtime: _Runtime) -> None:
    # The reminder worker first (it sends on its own), then the adapters (they may still
    # be sending replies that were committed, and scheduling reminders with Slack), then
    # the reminders' platform clients, then the store. The adapters stop together, not one
    # after the other: each drains within the one shared budget.
    if runtime.reminders is not None:
        try:
            await asyncio.wait_for(runtime.reminders.stop_worker(), STOP_TIMEOUT)
        except Exception:
            log.exception("reminder worker did not stop cleanly")
    await asyncio.gather(*(_stop_bot(name, bot) for name, bot in runtime.bots.items()))
    runtime.bots.clear()
    runtime.web = None
    if runtime.reminders is not None:
        try:
            await asyncio.wait_for(runtime.reminders.stop(), STOP_TIMEOUT)
        except Exception:
            log.exception("reminder clients did not stop cleanly")
        runtime.reminders = None
    if runtime.store is not None:
        try:
            await runtime.store.close()
        except Exception:
            log.exception("session store did not close cleanly")
        runtime.store = None


async def _stop_bot(name: str, bot: PlatformBot) -> None:
    try:
        await asyncio.wait_for(bot.stop(), STOP_TIMEOUT)
    except Exception:
        log.exception("platform did not stop cleanly", extra={"platform": name})


def _webhook(platform: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        bot = request.app.state.runtime.bots.get(platform)
        if bot is None:  # the lifespan did not run or is shutting down
            return JSONResponse({"error": f"{platform} is not running"}, status_code=503)
        response: Response = await bot.handle(request)
        return response

    endpoint.__name__ = f"{platform}_webhook"
    return endpoint


async def calendar_file(request: Request) -> Response:
    """「カレンダーに追加」: the .ics of a signed, unexpired link; 404 for anything else."""
    runtime: _Runtime = request.app.state.runtime
    signed = request.path_params["signed"]
    body = runtime.reminders.calendar_file(signed) if runtime.reminders is not None else None
    if body is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="reminder.ics"'},
    )


async def healthz(request: Request) -> Response:
    # Liveness only: the process answers. Redis trouble is readiness, not a reason to restart.
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtime: _Runtime = request.app.state.runtime
    reason = await _unready_reason(runtime.store)
    if runtime.ready != (reason is None):
        runtime.ready = reason is None
        if reason is None:
            log.info("ready")
        else:
            log.warning("not ready", extra={"reason": reason})
    if reason is not None:
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ready"})


async def _unready_reason(store: SessionStore | None) -> str | None:
    if store is None:
        return "not started"
    try:
        ok = await asyncio.wait_for(store.ping(), READY_TIMEOUT)
    except TimeoutError:
        return f"session store did not answer within {READY_TIMEOUT}s"
    except Exception as exc:
        return f"session store ping failed ({type(exc).__name__})"
    return None if ok else "session store unreachable"


def _metrics(token: str) -> Callable[[Request], Awaitable[Response]]:
    """/metrics behind a bearer token. The webhooks must be public, so this port is; the
    counters (traffic, errors, platforms in use) are for the operator's scraper only."""
    expected = f"Bearer {token}".encode()

    async def metrics(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse(
                {"error": "metrics need a bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(REGISTRY), headers={"Content-Type": content_type})

    return metrics


class AccessLogMiddleware:
    """One line per request with the path only: query strings can carry tokens, so they are
    never logged (uvicorn's own access log is off). Probes log at DEBUG to keep noise down."""

    QUIET = frozenset({"/healthz", "/readyz", "/metrics"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = scope.get("path", "")
            log.log(
                logging.DEBUG if path in self.QUIET else logging.INFO,
                "request",
                extra={
                    "method": scope.get("method", ""),
                    "path": path,
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )


def serve(host: str, port: int, workers: int = 1) -> None:
    """Run the server until SIGINT/SIGTERM; called by `iijmio-bot serve`.

    With workers > 1 uvicorn forks that many processes on one socket, each building its
    own app (app_from_env); the configuration is checked here first, so a mistake stops
    the command instead of every worker. uvloop and httptools are used when installed
    (uvicorn[standard], a dependency)."""
    import uvicorn

    settings = _settings_or_exit()
    options: dict[str, object] = {
        "host": host,
        "port": port,
        "lifespan": "on",  # a failed startup (broken adapter) must stop the process
        "proxy_headers": True,  # trusted proxies: FORWARDED_ALLOW_IPS (uvicorn's own variable)
        "access_log": False,  # AccessLogMiddleware logs paths without query strings
        "log_config": None,  # keep configure_logging's single redacting handler
        "server_header": False,
        "timeout_graceful_shutdown": REQUEST_GRACE,  # webhooks in flight commit (see above)
    }
    if workers > 1:
        from bots.logging_setup import configure_logging

        configure_logging(settings)  # the supervisor's own lines
        uvicorn.run("bots.server:app_from_env", factory=True, workers=workers, **options)  # type: ignore[arg-type]
    else:
        uvicorn.run(app_from_env(settings), **options)  # type: ignore[arg-type]


def app_from_env(settings: Settings | None = None) -> Starlette:
    """The app as one process serves it: settings from the environment, logging set up."""
    from bots.logging_setup import configure_logging

    settings = settings or _settings_or_exit()
    configure_logging(settings)
    log.info("configuration", extra={"settings": repr(settings)})
    return create_app(settings)


def _settings_or_exit() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"iijmio-bot: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
