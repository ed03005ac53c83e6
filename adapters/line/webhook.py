"""POST /line/webhook: verify, parse, run each event's turn, answer 200, then reply.

Turns run inline, before the 200: a turn is a couple of Redis round trips, and an
acknowledged event is then always a committed one (a crash after the 200 never loses a
message that LINE would not redeliver). The replies go out right after, in a tracked
background task, so a slow LINE API (10 s timeouts, push retries) never holds the
webhook response long enough for LINE to time out and redeliver. Replies are therefore
sent only after the commit, as docs/design.md requires. Should LINE redeliver anyway, the
store's event-id dedupe answers the redelivery with nothing.
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

from adapters.line.parse import LineEvent, MalformedPayload, events_of, parse_event
from adapters.line.render import Message, render_choice_page, render_notice, render_reply
from adapters.line.send import ApiLimits, LineClient, LineSender
from adapters.line.texts import say
from core.metrics import WEBHOOK_REQUESTS
from core.reply import Choice
from core.turn import StoreUnavailable, TurnConflict, TurnRunner

log = logging.getLogger("iijbot.line")

PLATFORM = "line"
LOADING_AFTER = 1.0  # seconds; a faster answer never shows the animation
DRAIN_TIMEOUT = 30.0  # seconds stop() waits for replies still on their way


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
        api_limits: ApiLimits | None = None,
    ) -> None:
        self._validator = SignatureValidator(channel_secret)
        self._access_token = access_token
        self._api_base_url = api_base_url.rstrip("/")
        self._runner = runner
        self._loading_after = loading_after
        self._api_limits = api_limits
        self._client: LineClient | None = None
        self._sender: LineSender | None = None
        self._deliveries: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        # The aiohttp session binds to the running loop: build it here, not at import.
        self._client = LineClient(
            access_token=self._access_token, base_url=self._api_base_url, limits=self._api_limits
        )
        await self._client.start()
        self._sender = LineSender(self._client)

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.drain(), DRAIN_TIMEOUT)
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
        except (ValueError, MalformedPayload):
            WEBHOOK_REQUESTS.labels(platform=PLATFORM, result="malformed").inc()
            return JSONResponse({"message": "malformed body"}, status_code=400)
        if self._sender is None:
            log.error("line: webhook called before start()")
            return JSONResponse({"message": "not ready"}, status_code=503)

        handled = 0
        outbox: list[Outgoing] = []
        for raw in raw_events:
            event = _parse_quietly(raw)
            if event is None:
                continue
            handled += 1
            try:
                messages = await self._handle_event(event, self._sender)
            except Exception:
                # A bug must not take the other events of this batch down, nor show the
                # user a trace; the log keeps it (without the message text).
                log.exception("line: event %s failed", event.event_id)
                continue
            if messages and event.reply_token:
                outbox.append(Outgoing(event, messages))
        if outbox:
            self._spawn(self._deliver_all(self._sender, outbox))
        result = "ok" if handled else "ignored"
        WEBHOOK_REQUESTS.labels(platform=PLATFORM, result=result).inc()
        return JSONResponse({})

    async def drain(self) -> None:
        """Wait until every reply already handed to the background has been sent."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._deliveries.add(task)  # a strong reference, or the task may be collected
        task.add_done_callback(self._deliveries.discard)

    def _spawn_loading(self, sender: LineSender, user_id: str) -> None:
        self._spawn(sender.show_loading(user_id))

    @staticmethod
    async def _deliver_all(sender: LineSender, outbox: list[Outgoing]) -> None:
        # One batch in order, so two messages of one user are answered in order.
        for out in outbox:
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
                self._loading_after, self._spawn_loading, sender, event.user_id
            )
        try:
            outcome = await self._runner.run(event.inbound)
        except (StoreUnavailable, TurnConflict) as exc:
            # Answer politely and return 200 rather than 500: a 500 would make LINE
            # redeliver, and the redelivered event would be answered long after we told
            # the user to try again (a confusing second answer). The user retries instead.
            log.warning("line: turn not run (%s) for event %s", type(exc).__name__, event.event_id)
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


def _parse_quietly(raw: dict[str, Any]) -> LineEvent | None:
    try:
        return parse_event(raw)
    except (TypeError, ValueError, KeyError):
        log.info("line: skipped an event of unexpected shape (type=%s)", raw.get("type"))
        return None
