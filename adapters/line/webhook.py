"""POST /line/webhook: verify, parse, run each event's turn, answer 200, then reply.

Turns run inline, before the 200: a turn is a couple of Redis round trips, and an
acknowledged event is then always a committed one (a crash after the 200 never loses a
message that LINE would not redeliver). The replies go out right after, in a tracked
background task, so a slow LINE API (10 s timeouts, push retries) never holds the
webhook response long enough for LINE to time out and redeliver. Replies are therefore
sent only after the commit, as docs/design.md requires. The loading animation of a slow
turn is asked for in the background too: the 200 never waits for any call to LINE.
Should LINE redeliver anyway, the store's event-id dedupe answers the redelivery with
nothing. Before a turn: old events (a replayed body) are ignored, and a conversation
flooding us is told once to slow down (adapters/line/replay.py, flood.py); with
redelivery on, a turn that cannot run answers 500 instead of a busy notice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from linebot.v3.webhook import SignatureValidator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapters.line.flood import FloodGate, Verdict
from adapters.line.parse import LineEvent, MalformedPayload, events_of, parse_event
from adapters.line.render import Message, render_choice_page, render_notice, render_reply
from adapters.line.replay import too_old
from adapters.line.send import ApiLimits, LineClient, LineSender
from adapters.line.texts import say
from core.metrics import TURNS, WEBHOOK_REQUESTS
from core.reply import Choice
from core.turn import StoreUnavailable, TurnConflict, TurnRunner

log = logging.getLogger("iijbot.line")

PLATFORM = "line"
LOADING_AFTER = 1.0  # seconds; a faster answer never shows the animation
DRAIN_TIMEOUT = 20.0  # seconds stop() waits for replies still on their way (bots/server.py)
LOADING_GRACE = 2.0  # seconds a reply waits for its loading-animation call to be answered


@dataclass(frozen=True)
class Outgoing:
    event: LineEvent
    messages: list[Message]


class LineBot:
    def __init__(
        self,
        *,
        channel_secret: str,
        access_token: str,
        api_base_url: str,
        runner: TurnRunner,
        loading_after: float = LOADING_AFTER,
        drain_timeout: float = DRAIN_TIMEOUT,
        redelivery: bool = False,
        flood: FloodGate | None = None,
        api_limits: ApiLimits | None = None,
    ) -> None:
        """redelivery: the channel has webhook redelivery on, so a turn that could not run
        (store down, too busy) is answered 500 and LINE sends it again, instead of a busy
        notice and a lost message. flood: per-conversation rate limit (None: none)."""
        self._validator = SignatureValidator(channel_secret)
        self._access_token = access_token
        self._api_base_url = api_base_url.rstrip("/")
        self._runner = runner
        self._loading_after = loading_after
        self._drain_timeout = drain_timeout
        self._redelivery = redelivery
        self._flood = flood
        self._api_limits = api_limits
        self._client: LineClient | None = None
        self._sender: LineSender | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        # Loading-animation calls still on their way, by event id: the event's reply waits
        # (a little) for its animation call, or the animation would spin after the answer.
        self._loading: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        # The aiohttp session binds to the running loop: build it here, not at import.
        self._client = LineClient(
            access_token=self._access_token, base_url=self._api_base_url, limits=self._api_limits
        )
        await self._client.start()
        self._sender = LineSender(self._client)

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.drain(), self._drain_timeout)
        except TimeoutError:
            log.warning("line: stopped with replies still pending")
        if self._client is not None:
            await self._client.close()
        self._client = None
        self._sender = None

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-line-signature", "")
        if not self._signature_ok(body, signature):
            WEBHOOK_REQUESTS.labels(platform=PLATFORM, result="bad_signature").inc()
            return JSONResponse({"message": "invalid signature"}, status_code=400)
        try:
            raw_events = events_of(json.loads(body))
        except (ValueError, RecursionError, MalformedPayload):
            # RecursionError: a signed body nested deeper than the parser's stack.
            WEBHOOK_REQUESTS.labels(platform=PLATFORM, result="malformed").inc()
            return JSONResponse({"message": "malformed body"}, status_code=400)
        if self._sender is None:
            log.error("line: webhook called before start()")
            return JSONResponse({"message": "not ready"}, status_code=503)

        handled = 0
        redeliver = False
        outbox: list[Outgoing] = []
        try:
            for raw in raw_events:
                event = _parse_quietly(raw)
                if event is None:
                    continue
                if too_old(event.timestamp_ms, event.redelivery, self._runner.now()):
                    log.info(
                        "line: ignored an old event %s (redelivery=%s)",
                        event.event_id,
                        event.redelivery,
                    )
                    continue
                handled += 1
                try:
                    messages = await self._answer(event, self._sender)
                except _Redeliver:
                    redeliver = True  # the other events of the batch still run
                    continue
                except Exception:
                    # A bug must not take the other events of this batch down, nor leave the
                    # user in silence: a short apology on the event's reply token. Never a
                    # 500 for redelivery: the same event would meet the same bug. The log
                    # keeps the exception (the event id, never the message text).
                    log.exception("line: event %s failed", event.event_id)
                    TURNS.labels(PLATFORM, "error").inc()
                    messages = render_notice(say("failed"))
                if messages and event.reply_token:
                    outbox.append(Outgoing(event, messages))
        finally:
            # Whatever happened to later events, the committed ones are answered.
            if outbox:
                self._spawn(self._deliver_all(self._sender, outbox))
        if redeliver:
            # LINE redelivers the whole body; the events committed above are then
            # recognised by their ids and answered nothing, the failed one runs again.
            WEBHOOK_REQUESTS.labels(platform=PLATFORM, result="redeliver").inc()
            return JSONResponse({"message": "try again"}, status_code=500)
        result = "ok" if handled else "ignored"
        WEBHOOK_REQUESTS.labels(platform=PLATFORM, result=result).inc()
        return JSONResponse({})

    async def _answer(self, event: LineEvent, sender: LineSender) -> list[Message]:
        """The event's turn, unless its conversation is over its rate."""
        verdict = self._admit(event)
        if verdict is Verdict.RUN:
            return await self._handle_event(event, sender)
        if verdict is Verdict.NOTICE:
            log.info(
                "line: conversation over its rate, asked to slow down (event %s)", event.event_id
            )
            return render_notice(say("slow_down"))
        return []  # over the rate and already told: dropped, nothing committed

    def _admit(self, event: LineEvent) -> Verdict:
        if self._flood is None:
            return Verdict.RUN
        key = event.inbound.key if event.inbound is not None else None
        if key is None and event.page is not None:
            key = event.page.key
        return self._flood.admit(key.tag) if key is not None else Verdict.RUN

    async def drain(self) -> None:
        """Wait until every reply already handed to the background has been sent."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._deliveries.add(task)  # a strong reference, or the task may be collected
        task.add_done_callback(self._deliveries.discard)
        return task

    def _show_loading(self, sender: LineSender, event: LineEvent) -> None:
        """In the background: the webhook's answer never waits for a call to LINE."""
        task = self._spawn(sender.show_loading(event.user_id))
        self._loading[event.event_id] = task
        task.add_done_callback(lambda _: self._loading.pop(event.event_id, None))

    async def _deliver_all(self, sender: LineSender, outbox: list[Outgoing]) -> None:
        # One batch in order, so two messages of one user are answered in order.
        for out in outbox:
            loading = self._loading.get(out.event.event_id)
            if loading is not None:
                # Bounded: a hung animation call must not hold the answer itself for long.
                await asyncio.wait({loading}, timeout=LOADING_GRACE)
            try:
                await sender.deliver(
                    out.messages,
                    reply_token=out.event.reply_token,
                    push_to=out.event.push_to,
                    event_id=out.event.event_id,
                )
            except Exception:
                log.exception("line: delivery failed for event %s", out.event.event_id)

    def _signature_ok(self, body: bytes, signature: str) -> bool:
        if not signature:
            return False
        try:
            # The SDK validator takes text and re-encodes it as UTF-8; strict decoding
            # round-trips valid UTF-8 byte for byte, and anything else is not from LINE.
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return bool(self._validator.validate(text, signature))

    async def _handle_event(self, event: LineEvent, sender: LineSender) -> list[Message]:
        """Run the event's turn (committed when this returns) and render what to send."""
        if event.page is not None:
            return await self._show_page(event)
        assert event.inbound is not None
        # Slow turn: let the user see we are working (1:1 only, LINE's rule). One timer per
        # event, not a task and a wait_for; the call itself goes out in the background.
        loading: asyncio.TimerHandle | None = None
        if event.one_to_one:
            loading = asyncio.get_running_loop().call_later(
                self._loading_after, self._show_loading, sender, event
            )
        try:
            outcome = await self._runner.run(event.inbound)
        except (StoreUnavailable, TurnConflict) as exc:
            log.warning("line: turn not run (%s) for event %s", type(exc).__name__, event.event_id)
            if self._redelivery:
                # The channel redelivers: a 500 makes LINE send the event again, and the
                # event-id dedupe makes the retry exactly-once. No notice, or the user
                # would read "try again" and then get the real answer too.
                raise _Redeliver from exc
            # Without redelivery a 500 would lose the message as surely as a 200 does:
            # answer politely and let the user send it again.
            return render_notice(say("busy"))
        finally:
            if loading is not None:
                loading.cancel()
        if outcome.duplicate or outcome.reply is None:
            return []  # a redelivery already answered, or nothing to say
        if not event.reply_token:
            return []  # unfollow and the like: the user cannot receive anything
        try:
            return render_reply(outcome.reply)
        except Exception:
            # Flow data the renderer cannot express (a bug): still answer, as plain text.
            log.exception("line: could not render node %s; sending plain text", outcome.reply.node)
            return render_notice("\n\n".join(outcome.reply.readable_texts()) or say("busy"))

    async def _show_page(self, event: LineEvent) -> list[Message]:
        """「ほかの項目」: read-only, nothing is committed; the next tap is a normal turn."""
        page = event.page
        assert page is not None
        try:
            expect = await self._runner.expectation(page.key)
        except StoreUnavailable:
            log.warning("line: store unavailable while paging choices")
            return render_notice(say("busy"))
        start = page.start if expect.node == page.node else 0
        choices = [Choice(label=c.label, value=c.value) for c in expect.choices]
        return render_choice_page(expect.node, choices, start)


class _Redeliver(Exception):
    """This event's turn could not run; the webhook must answer 500 so LINE redelivers."""


def _parse_quietly(raw: dict[str, Any]) -> LineEvent | None:
    try:
        return parse_event(raw)
    except Exception:
        # Any shape parse_event did not foresee is one poison event, never the batch's end:
        # the other events of this body are still run and answered.
        log.info("line: skipped an event of unexpected shape (type=%r)", _type_of(raw))
        return None


def _type_of(raw: dict[str, Any]) -> str:
    etype = raw.get("type")
    return etype[:40] if isinstance(etype, str) else "?"
