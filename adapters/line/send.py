"""Delivering rendered messages: reply token first, push as the fallback, never twice.

- Reply: free and tied to the event, but the token is single-use and expires after
  about a minute. LINE answers 400 "Invalid reply token" when it is used up or stale.
- Push (fallback for that case only): sent with X-Line-Retry-Key = uuid5 of the
  webhookEventId, so a retried push, or the same event handled again by another
  process, is refused by LINE with 409 instead of reaching the user twice.
- Other errors (429, 5xx) on the reply are not retried: the reply API has no retry key,
  so a retry could double-send; the turn is already committed and the user's next
  message works. They are logged with LINE's request id and counted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from enum import StrEnum

import aiohttp
from linebot.v3.messaging import (
    AsyncMessagingApi,
    Message,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)
from linebot.v3.messaging.exceptions import ApiException

from core.metrics import PLATFORM_API_ERRORS, REPLIES_SENT

log = logging.getLogger("iijbot.line")

PLATFORM = "line"
RETRY_KEY_NAMESPACE = uuid.UUID("8f1c4d2e-5b7a-4c3e-9d61-2a0b7e4f9c13")  # ours, fixed forever
PUSH_ATTEMPTS = 3
REQUEST_TIMEOUT = 10.0
LOADING_SECONDS = 10  # LINE accepts 5..60 in steps of 5; the animation ends at our reply


class Delivery(StrEnum):
    REPLY = "reply"
    PUSH = "push"
    ALREADY = "already"  # a push with this retry key was accepted before (409)
    FAILED = "failed"


def retry_key(event_id: str) -> str:
    """The same webhook event always maps to the same key, across retries and processes."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, f"line-webhook-event:{event_id}"))


class LineSender:
    def __init__(self, api: AsyncMessagingApi) -> None:
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
                await self._api.reply_message_with_http_info(
                    ReplyMessageRequest(replyToken=reply_token, messages=messages),
                    _request_timeout=REQUEST_TIMEOUT,
                )
            except Exception as exc:
                # Never retried: the reply API has no retry key, so only a token LINE
                # refused (nothing was delivered) may fall back to a push.
                if _failure("reply", exc) is not Failure.TOKEN_REFUSED:
                    return Delivery.FAILED
                log.info("line: reply token refused, falling back to push (event %s)", event_id)
            else:
                REPLIES_SENT.labels(platform=PLATFORM, method="reply").inc()
                return Delivery.REPLY
        return await self.push(messages, to=push_to, event_id=event_id)

    async def push(self, messages: list[Message], *, to: str, event_id: str) -> Delivery:
        key = retry_key(event_id)
        request = PushMessageRequest(to=to, messages=messages)
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                await self._api.push_message_with_http_info(
                    request, x_line_retry_key=key, _request_timeout=REQUEST_TIMEOUT
                )
            except Exception as exc:
                failure = _failure("push", exc)
                if failure is Failure.ALREADY:
                    log.info("line: push already accepted (retry key %s)", key)
                    REPLIES_SENT.labels(platform=PLATFORM, method="push_already").inc()
                    return Delivery.ALREADY
                if failure is not Failure.RETRYABLE or attempt == PUSH_ATTEMPTS:
                    return Delivery.FAILED
            else:
                REPLIES_SENT.labels(platform=PLATFORM, method="push").inc()
                return Delivery.PUSH
            # Safe to repeat: the retry key makes LINE drop a duplicate of an accepted push.
            await asyncio.sleep(0.2 * attempt)
        return Delivery.FAILED

    async def show_loading(self, user_id: str) -> None:
        """Best effort: the animation is a courtesy, its failure must not cost the reply."""
        try:
            await self._api.show_loading_animation_with_http_info(
                ShowLoadingAnimationRequest(chatId=user_id, loadingSeconds=LOADING_SECONDS),
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            _record_error("loading", exc)
        except Exception as exc:  # transport errors and anything unexpected alike
            log.warning("line: loading animation failed: %s", type(exc).__name__)


class Failure(StrEnum):
    """What a failed call to LINE means for the delivery."""

    TOKEN_REFUSED = "token_refused"  # 400 "Invalid reply token": nothing was delivered
    ALREADY = "already"  # 409 on a push: this retry key was accepted before
    RETRYABLE = "retryable"  # 429, 5xx, transport: repeating is safe only with a retry key
    FINAL = "final"  # anything else: repeating would not help


def _failure(call: str, exc: Exception) -> Failure:
    """Log and count one failed call (from inside its `except`, so a trace can be kept)."""
    if isinstance(exc, ApiException):
        if call == "reply" and _is_invalid_reply_token(exc):
            return Failure.TOKEN_REFUSED
        if call == "push" and exc.status == 409:
            return Failure.ALREADY
        _record_error(call, exc)
        return Failure.RETRYABLE if _retryable(exc.status) else Failure.FINAL
    if isinstance(exc, aiohttp.ClientError | TimeoutError):
        # Unknown whether LINE got it: only a push (with its retry key) may try again.
        log.warning("line: %s transport error %s", call, type(exc).__name__)
        PLATFORM_API_ERRORS.labels(platform=PLATFORM, status="transport").inc()
        return Failure.RETRYABLE
    # e.g. an answer the SDK cannot deserialize: LINE may well have delivered it, so it
    # is not repeated; keep the trace for the operator.
    log.exception("line: unexpected error around %s_message", call)
    PLATFORM_API_ERRORS.labels(platform=PLATFORM, status="unexpected").inc()
    return Failure.FINAL


def _retryable(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)


def _error_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return ""
    msg = body.get("message") if isinstance(body, dict) else None
    return msg if isinstance(msg, str) else ""


def _is_invalid_reply_token(exc: ApiException) -> bool:
    return exc.status == 400 and "reply token" in _error_message(exc).lower()


def _record_error(call: str, exc: ApiException) -> None:
    status = str(exc.status or 0)
    request_id = (exc.headers or {}).get("x-line-request-id", "-")
    # LINE's error message names the field at fault; it never echoes the user's text.
    log.warning(
        "line: %s failed status=%s x-line-request-id=%s message=%s",
        call,
        status,
        request_id,
        _error_message(exc)[:200],
    )
    PLATFORM_API_ERRORS.labels(platform=PLATFORM, status=status).inc()
