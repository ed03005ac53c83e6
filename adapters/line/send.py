"""Delivering rendered messages: reply token first, push as the fallback, never twice.

- Reply: free and tied to the event, but the token is single-use and expires after
  about a minute. LINE answers 400 "Invalid reply token" when it is used up or stale.
- Push (the fallback): sent with X-Line-Retry-Key = uuid5 of the webhookEventId, so a
  retried push, or the same event handled again by another process, is refused by LINE
  with 409 instead of reaching the user twice. It is used when LINE refused the token,
  and when the reply got no answer at all (no free connection in time, a transport
  error, a timeout): the turn is committed, and an answer that never arrives is worse
  than the rare double a reply LINE accepted but never acknowledged could cause.
- An error status on the reply (429, 5xx) is not followed by a push: LINE answered, the
  reply API has no retry key, and the user's next message works. It is logged with
  LINE's request id and counted.

One long-lived aiohttp session carries every call (LineClient): the messages are already
the API's JSON (render.py), so nothing is rebuilt per request, and `trust_env` is off —
with it on, aiohttp reads the proxy variables and ~/.netrc in a thread for every request.
Waiting for a free connection and the request itself have separate time limits, so a
slow LINE API queues replies instead of failing them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp
import orjson

from core.metrics import PLATFORM_API_ERRORS, REPLIES_SENT

log = logging.getLogger("iijbot.line")

PLATFORM = "line"
RETRY_KEY_NAMESPACE = uuid.UUID("8f1c4d2e-5b7a-4c3e-9d61-2a0b7e4f9c13")  # ours, fixed forever
PUSH_ATTEMPTS = 3
REQUEST_TIMEOUT = 10.0  # seconds from sending a request to its whole answer
POOL_WAIT = 30.0  # seconds a call may wait for a free connection before it counts as failed
POOL_SIZE = 128  # connections to LINE per process; LINE allows 2,000 replies a second
CONNECT_TIMEOUT = 5.0
LOADING_SECONDS = 10  # LINE accepts 5..60 in steps of 5; the animation ends at our reply

Message = dict[str, Any]

# Labelled once: labels() looks the child up under a lock on every call.
_SENT = {
    m: REPLIES_SENT.labels(platform=PLATFORM, method=m) for m in ("reply", "push", "push_already")
}


class Delivery(StrEnum):
    REPLY = "reply"
    PUSH = "push"
    ALREADY = "already"  # a push with this retry key was accepted before (409)
    FAILED = "failed"


def retry_key(event_id: str) -> str:
    """The same webhook event always maps to the same key, across retries and processes."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, f"line-webhook-event:{event_id}"))


class LineApiError(Exception):
    """LINE answered with an error status."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        super().__init__(f"LINE API answered {status}")
        self.status = status
        self.headers = headers
        self.body = body


class PoolWaitTimeout(TimeoutError):
    """No connection became free in time: the request was never sent."""


@dataclass(frozen=True)
class ApiLimits:
    """How many calls to LINE may be open at once and how long each may take."""

    pool_size: int = POOL_SIZE
    pool_wait: float = POOL_WAIT
    request_timeout: float = REQUEST_TIMEOUT


class LineClient:
    """The Messaging API over one aiohttp session, built in the running loop (start)."""

    def __init__(
        self, *, access_token: str, base_url: str, limits: ApiLimits | None = None
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
            "User-Agent": "iijmio-bot",
        }
        limits = limits or ApiLimits()
        self._pool_size = limits.pool_size
        self._pool_wait = limits.pool_wait
        self._request_timeout = limits.request_timeout
        self._slots = asyncio.Semaphore(limits.pool_size)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # The semaphore in post() hands out as many slots as the connector has
        # connections, so aiohttp never queues a request itself and its total timeout
        # measures the request alone.
        connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(
                total=self._request_timeout, sock_connect=CONNECT_TIMEOUT
            ),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None

    async def post(
        self, path: str, payload: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        """POST JSON; LineApiError for an error status, PoolWaitTimeout, TimeoutError or
        aiohttp.ClientError when no answer came."""
        if self._session is None:
            raise aiohttp.ClientConnectionError("LINE client not started")
        # orjson: UTF-8 and compact like json.dumps(ensure_ascii=False), 10x faster on
        # a reply with its quick-reply buttons (~1.5 KB).
        body = orjson.dumps(payload)
        hdrs = {**self._headers, **headers} if headers else self._headers
        if self._slots.locked():  # only then is there a wait worth a timer
            try:
                async with asyncio.timeout(self._pool_wait):
                    await self._slots.acquire()
            except TimeoutError:
                raise PoolWaitTimeout(f"no free connection within {self._pool_wait}s") from None
        else:
            await self._slots.acquire()
        try:
            async with self._session.post(self._base_url + path, data=body, headers=hdrs) as resp:
                answer = await resp.read()
                if resp.status >= 300:
                    raise LineApiError(resp.status, resp.headers, answer)
        finally:
            self._slots.release()


class LineSender:
    def __init__(self, api: LineClient) -> None:
        self._api = api

    async def deliver(
        self,
        messages: list[Message],
        *,
        reply_token: str | None,
        push_to: str,
        event_id: str,
    ) -> Delivery:
        if not messages:
            return Delivery.ALREADY
        if reply_token:
            try:
                await self._api.post(
                    "/v2/bot/message/reply", {"replyToken": reply_token, "messages": messages}
                )
            except Exception as exc:
                failure = _failure("reply", exc)
                if failure not in (Failure.TOKEN_REFUSED, Failure.NO_ANSWER):
                    return Delivery.FAILED
                log.info("line: reply %s, falling back to push (event %s)", failure, event_id)
            else:
                _SENT["reply"].inc()
                return Delivery.REPLY
        return await self.push(messages, to=push_to, event_id=event_id)

    async def push(self, messages: list[Message], *, to: str, event_id: str) -> Delivery:
        key = retry_key(event_id)
        payload = {"to": to, "messages": messages}
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                await self._api.post(
                    "/v2/bot/message/push", payload, headers={"X-Line-Retry-Key": key}
                )
            except Exception as exc:
                failure = _failure("push", exc)
                if failure is Failure.ALREADY:
                    log.info("line: push already accepted (retry key %s)", key)
                    _SENT["push_already"].inc()
                    return Delivery.ALREADY
                again = failure in (Failure.RETRYABLE, Failure.NO_ANSWER)
                if not again or attempt == PUSH_ATTEMPTS:
                    return Delivery.FAILED
            else:
                _SENT["push"].inc()
                return Delivery.PUSH
            # Safe to repeat: the retry key makes LINE drop a duplicate of an accepted push.
            await asyncio.sleep(0.2 * attempt)
        return Delivery.FAILED

    async def show_loading(self, user_id: str) -> None:
        """Best effort: the animation is a courtesy, its failure must not cost the reply."""
        try:
            await self._api.post(
                "/v2/bot/chat/loading/start",
                {"chatId": user_id, "loadingSeconds": LOADING_SECONDS},
            )
        except LineApiError as exc:
            _record_error("loading", exc)
        except Exception as exc:  # transport errors and anything unexpected alike
            log.warning("line: loading animation failed: %s", type(exc).__name__)


class Failure(StrEnum):
    """What a failed call to LINE means for the delivery."""

    TOKEN_REFUSED = "token_refused"  # 400 "Invalid reply token": nothing was delivered
    ALREADY = "already"  # 409 on a push: this retry key was accepted before
    RETRYABLE = "retryable"  # 429, 5xx: repeating is safe only with a retry key
    NO_ANSWER = "no_answer"  # never sent, or no answer came: unknown whether it arrived
    FINAL = "final"  # anything else: repeating would not help


def _failure(call: str, exc: Exception) -> Failure:
    """Log and count one failed call (from inside its `except`, so a trace can be kept)."""
    if isinstance(exc, LineApiError):
        if call == "reply" and _is_invalid_reply_token(exc):
            return Failure.TOKEN_REFUSED
        if call == "push" and exc.status == 409:
            return Failure.ALREADY
        _record_error(call, exc)
        return Failure.RETRYABLE if _retryable(exc.status) else Failure.FINAL
    if isinstance(exc, aiohttp.ClientError | TimeoutError):
        log.warning("line: %s transport error %s", call, type(exc).__name__)
        PLATFORM_API_ERRORS.labels(platform=PLATFORM, status="transport").inc()
        return Failure.NO_ANSWER
    log.exception("line: unexpected error around %s_message", call)
    PLATFORM_API_ERRORS.labels(platform=PLATFORM, status="unexpected").inc()
    return Failure.FINAL


def _retryable(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)


def _error_message(exc: LineApiError) -> str:
    try:
        body = json.loads(exc.body or b"{}")
    except (TypeError, ValueError):
        return ""
    msg = body.get("message") if isinstance(body, dict) else None
    return msg if isinstance(msg, str) else ""


def _is_invalid_reply_token(exc: LineApiError) -> bool:
    return exc.status == 400 and "reply token" in _error_message(exc).lower()


def _record_error(call: str, exc: LineApiError) -> None:
    status = str(exc.status or 0)
    request_id = exc.headers.get("x-line-request-id", "-")
    # LINE's error message names the field at fault; it never echoes the user's text.
    log.warning(
        "line: %s failed status=%s x-line-request-id=%s message=%s",
        call,
        status,
        request_id,
        _error_message(exc)[:200],
    )
    PLATFORM_API_ERRORS.labels(platform=PLATFORM, status=status).inc()
