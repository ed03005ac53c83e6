"""Reminders on Slack. Slack keeps and sends them: chat.scheduleMessage to the customer's
DM with the app when the reminder is set, chat.deleteScheduledMessage when it is
cancelled. What Slack refuses to schedule (more than 120 days ahead, or Slack unreachable
at that moment) waits in our due index, and the worker sends it by chat.postMessage at its
time, as it does every LINE reminder.

The handle kept for a scheduled message is "<channel> <scheduled_message_id>": deleting it
needs both, and the DM channel then needs no conversations.open again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import render_reply
from adapters.slack.send import (
    API_TIMEOUT,
    PLATFORM,
    Destination,
    Method,
    SlackSender,
    open_client,
)
from core.inbound import ConversationKey
from core.metrics import PLATFORM_API_ERRORS
from core.reply import Reply

log = logging.getLogger("iijbot.slack")

_SEP = " "  # never inside a Slack channel id or scheduled message id
# Slack's answer when the scheduled message was sent already, deleted, or never existed:
# in every case it will not be sent (again), which is what a cancel wants.
GONE = "invalid_scheduled_message_id"


class SlackReminders:
    """The Slack side of reminders: the hosted scheduler (schedule, cancel) and the
    worker's sender for the reminders Slack did not take (a call)."""

    def __init__(self, bot_token: str, api_url: str, timeout: float = API_TIMEOUT) -> None:
        self._token = bot_token
        self._api_url = api_url
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._sender: SlackSender | None = None

    async def start(self) -> None:
        self._session, self._client, self._sender = open_client(
            self._token, self._api_url, self._timeout
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._client = self._sender = None

    async def __call__(self, key: ConversationKey, delivery_id: str, reply: Reply) -> bool:
        """The worker's send, at the due time: chat.postMessage to the DM."""
        if self._sender is None:
            raise RuntimeError("SlackReminders used before start()")
        return await self._sender.deliver(
            Destination(Method.DM, user=key.user), render_reply(reply)
        )

    async def schedule(self, key: ConversationKey, post_at: datetime, message: Reply) -> str | None:
        method = "conversations.open"
        if self._client is None:
            log.warning("slack reminder not scheduled: the scheduler is not started")
            return None
        client = self._client
        try:
            async with asyncio.timeout(self._timeout):
                opened = await client.conversations_open(users=key.user)
                channel = str((opened.get("channel") or {}).get("id") or "")
                method = "chat.scheduleMessage"
                got = await client.chat_scheduleMessage(
                    channel=channel,
                    post_at=int(post_at.timestamp()),
                    **render_reply(message).payload(),
                )
        except SlackApiError as exc:
            self._failed(method, str(exc.response.status_code), str(exc.response.get("error", "")))
            return None
        except (TimeoutError, aiohttp.ClientError, SlackClientError) as exc:
            self._failed(method, "network", type(exc).__name__)
            return None
        scheduled = str(got.get("scheduled_message_id") or "")
        if not scheduled:
            self._failed(method, "200", "no scheduled_message_id")
            return None
        return f"{got.get('channel') or channel}{_SEP}{scheduled}"

    async def cancel(self, key: ConversationKey, hosted_id: str) -> bool:
        method = "chat.deleteScheduledMessage"
        channel, _, scheduled = hosted_id.partition(_SEP)
        if not scheduled:
            return True  # not a handle of ours: nothing Slack could send for it
        if self._client is None:
            log.warning("slack reminder not withdrawn: the scheduler is not started")
            return False
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.chat_deleteScheduledMessage(
                    channel=channel, scheduled_message_id=scheduled
                )
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error == GONE:
                return True
            self._failed(method, str(exc.response.status_code), error)
            return False
        except (TimeoutError, aiohttp.ClientError, SlackClientError) as exc:
            self._failed(method, "network", type(exc).__name__)
            return False
        return True

    @staticmethod
    def _failed(method: str, status: str, error: str) -> None:
        PLATFORM_API_ERRORS.labels(PLATFORM, status).inc()
        log.warning(
            "slack reminder call failed method=%s status=%s error=%s", method, status, error
        )
