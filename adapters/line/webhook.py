"""POST /line/webhook: verify, parse, run each event's turn, then answer it.

Events are handled inline, before the 200 goes back. A turn is a couple of Redis round
trips, well inside LINE's webhook timeout, and inline handling keeps "reply only after
the commit" simple: the reply is sent after TurnRunner.run returned, i.e. after the
commit. Should LINE time out anyway and redeliver, the store's event-id dedupe makes
the redelivery a no-op.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from linebot.v3.messaging import AsyncApiClient, AsyncMessagingApi, Configuration
from linebot.v3.webhook import SignatureValidator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapters.line.parse import LineEvent, MalformedPayload, events_of, parse_event
from adapters.line.render import render_choice_page, render_notice, render_reply
from adapters.line.send import LineSender
from core.metrics import WEBHOOK_REQUESTS
from core.reply import Choice
from core.store.base import StoreUnavailable
from core.turn import TurnConflict, TurnRunner

log = logging.getLogger(__name__)

PLATFORM = "line"
BUSY_TEXT = "ただいま混み合っています。少し時間をおいてもう一度お試しください。"
LOADING_AFTER = 1.0  # seconds; a faster answer never shows the animation


class LineBot:
    def __init__(
        self,
        *,
        channel_secret: str,
        access_token: str,
        api_base_url: str,
        runner: TurnRunner,
        loading_after: float = LOADING_AFTER,
    ) -> None:
        self._validator = SignatureValidator(channel_secret)
        self._access_token = access_token
        self._api_base_url = api_base_url.rstrip("/")
        self._runner = runner
        self._loading_after = loading_after
        self._client: AsyncApiClient | None = None
        self._sender: LineSender | None = None

    async def start(self) -> None:
        # The SDK's aiohttp session binds to the running loop: build it here, not at import.
        config = Configuration(access_token=self._access_token, host=self._api_base_url)
        self._client = AsyncApiClient(config)
        self._sender = LineSender(AsyncMessagingApi(self._client))

    async def stop(self) -> None:
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
        for raw in raw_events:
            event = _parse_quietly(raw)
            if event is None:
                continue
            handled += 1
            await self._handle_event(event, self._sender)
        result = "ok" if handled else "ignored"
        WEBHOOK_REQUESTS.labels(platform=PLATFORM, result=result).inc()
        return JSONResponse({})

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

    async def _handle_event(self, event: LineEvent, sender: LineSender) -> None:
        if event.page is not None:
            await self._show_page(event, sender)
            return
        assert event.inbound is not None
        turn = asyncio.ensure_future(self._runner.run(event.inbound))
        try:
            try:
                outcome = await asyncio.wait_for(asyncio.shield(turn), self._loading_after)
            except TimeoutError:
                # Slow turn: let the user see we are working. 1:1 only (LINE's rule).
                if event.one_to_one:
                    await sender.show_loading(event.user_id)
                outcome = await turn
        except (StoreUnavailable, TurnConflict) as exc:
            # Answer politely and return 200 rather than 500: a 500 would make LINE
            # redeliver, and the redelivered event would be answered long after we told
            # the user to try again (a confusing second answer). The user retries instead.
            log.warning("line: turn not run (%s) for event %s", type(exc).__name__, event.event_id)
            if event.reply_token:
                await sender.deliver(
                    render_notice(BUSY_TEXT),
                    reply_token=event.reply_token,
                    push_to=event.push_to,
                    event_id=event.event_id,
                )
            return
        except Exception:
            # A bug must not take the other events of this batch down, nor show the user
            # a trace; the log keeps it (without the message text).
            log.exception("line: turn failed for event %s", event.event_id)
            return
        if outcome.duplicate or outcome.reply is None:
            return  # a redelivery already answered, or nothing to say (unfollow)
        if not event.reply_token:
            return  # unfollow and the like: the user cannot receive anything
        try:
            messages = render_reply(outcome.reply)
        except Exception:
            # Flow data the renderer cannot express (a bug): still answer, as plain text.
            log.exception("line: could not render node %s; sending plain text", outcome.reply.node)
            messages = render_notice("\n\n".join(outcome.reply.readable_texts()) or BUSY_TEXT)
        await sender.deliver(
            messages,
            reply_token=event.reply_token,
            push_to=event.push_to,
            event_id=event.event_id,
        )

    async def _show_page(self, event: LineEvent, sender: LineSender) -> None:
        """「ほかの項目」: read-only, nothing is committed; the next tap is a normal turn."""
        page = event.page
        assert page is not None
        try:
            loaded = await self._runner.store.load(page.key)
        except StoreUnavailable:
            log.warning("line: store unavailable while paging choices")
            messages = render_notice(BUSY_TEXT)
        else:
            expect = self._runner.dialogue.expectation(loaded.session)
            start = page.start if expect.node == page.node else 0
            choices = [Choice(label=c.label, value=c.value) for c in expect.choices]
            messages = render_choice_page(expect.node, choices, start)
        if event.reply_token and messages:
            await sender.deliver(
                messages,
                reply_token=event.reply_token,
                push_to=event.push_to,
                event_id=event.event_id,
            )


def _parse_quietly(raw: dict[str, Any]) -> LineEvent | None:
    try:
        return parse_event(raw)
    except (TypeError, ValueError, KeyError):
        log.info("line: skipped an event of unexpected shape (type=%s)", raw.get("type"))
        return None
