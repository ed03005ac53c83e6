"""Delivering a rendered message: response_url, chat.update, chat.postMessage/Ephemeral, DM.

A failed delivery is logged with its HTTP status and counted; it never undoes the turn
(the session is already committed), so the user's next action simply carries on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.render import SlackMessage
from core.metrics import PLATFORM_API_ERRORS, REPLIES_SENT

log = logging.getLogger("iijbot.slack")

PLATFORM = "slack"
API_TIMEOUT = 10.0  # seconds for one delivery to Slack, all of its calls together


class Method(StrEnum):
    RESPONSE_URL = "response_url"  # slash commands and clicks on messages
    UPDATE = "chat.update"  # a click on a message we cannot reach by response_url
    POST = "chat.postMessage"  # a DM
    EPHEMERAL = "chat.postEphemeral"  # a mention in a channel: only the asker sees it
    DM = "dm"  # App Home clicks: conversations.open, then chat.postMessage


@dataclass(frozen=True)
class Destination:
    method: Method
    user: str
    channel: str | None = None
    ts: str | None = None  # the message to update
    response_url: str | None = None
    replace_original: bool = False  # response_url: swap the clicked message for the answer

    def for_notice(self) -> Destination:
        """Where an error notice goes: next to the message, never over it, so the user can
        press the same button again."""
        if self.method is Method.RESPONSE_URL:
            return replace(self, replace_original=False)
        if self.method is Method.UPDATE:
            return replace(self, method=Method.POST, ts=None)
        return self


def open_client(
    token: str, api_url: str, timeout: float = API_TIMEOUT
) -> tuple[aiohttp.ClientSession, AsyncWebClient, SlackSender]:
    """A session, a Web API client on it and a sender, for one running loop (the caller
    closes the session)."""
    # slack_sdk ignores its timeout= with a shared session: the session's own limit is the
    # one that holds, and the sender bounds each delivery as a whole.
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), trust_env=False)
    client = AsyncWebClient(token=token, base_url=api_url, session=session)
    return session, client, SlackSender(client, session, timeout=timeout)


class SlackSender:
    def __init__(
        self, client: AsyncWebClient, session: aiohttp.ClientSession, timeout: float = API_TIMEOUT
    ) -> None:
        self._client = client
        self._session = session
        self._timeout = timeout

    async def deliver(self, dest: Destination, message: SlackMessage) -> bool:
        if dest.method is Method.RESPONSE_URL and dest.response_url:
            status = await self._respond(dest, message)
            if status == 200:
                return True
            if status == 404:
                # The response_url is used up (5 uses) or older than 30 minutes: the
                # answer still reaches the user, in the DM.
                return await self._call_api(Method.DM, dest, message)
            return False
        return await self._call_api(dest.method, dest, message)

    async def _respond(self, dest: Destination, message: SlackMessage) -> int:
        assert dest.response_url is not None
        body: dict[str, Any] = message.payload()
        if dest.replace_original:
            body["replace_original"] = True
        else:
            body["response_type"] = "ephemeral"
            body["replace_original"] = False
        webhook = AsyncWebhookClient(dest.response_url, session=self._session)
        try:
            async with asyncio.timeout(self._timeout):
                resp = await webhook.send_dict(body)
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._failed("response_url", "network", type(exc).__name__)
            return 0
        if resp.status_code != 200:
            self._failed("response_url", str(resp.status_code), (resp.body or "")[:100])
            return resp.status_code
        REPLIES_SENT.labels(PLATFORM, Method.RESPONSE_URL.value).inc()
        return 200

    async def _call_api(self, method: Method, dest: Destination, message: SlackMessage) -> bool:
        payload = message.payload()
        channel, ts = dest.channel or "", dest.ts or ""
        try:
            async with asyncio.timeout(self._timeout):
                await self._send(method, dest, channel, ts, payload)
        except SlackApiError as exc:
            resp = exc.response
            self._failed(method.value, str(resp.status_code), str(resp.get("error", "")))
            return False
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._failed(method.value, "network", type(exc).__name__)
            return False
        REPLIES_SENT.labels(PLATFORM, method.value).inc()
        return True

    async def _send(
        self, method: Method, dest: Destination, channel: str, ts: str, payload: dict[str, Any]
    ) -> None:
        if method is Method.UPDATE:
            await self._client.chat_update(channel=channel, ts=ts, **payload)
        elif method is Method.POST:
            await self._client.chat_postMessage(channel=channel, **payload)
        elif method is Method.EPHEMERAL:
            await self._client.chat_postEphemeral(channel=channel, user=dest.user, **payload)
        else:
            opened = await self._client.conversations_open(users=dest.user)
            dm = str((opened.get("channel") or {}).get("id") or "")
            await self._client.chat_postMessage(channel=dm, **payload)

    async def publish_home(self, user: str, view: dict[str, Any]) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.views_publish(user_id=user, view=view)
        except SlackApiError as exc:
            resp = exc.response
            self._failed("views.publish", str(resp.status_code), str(resp.get("error", "")))
            return False
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._failed("views.publish", "network", type(exc).__name__)
            return False
        REPLIES_SENT.labels(PLATFORM, "views.publish").inc()
        return True

    @staticmethod
    def _failed(method: str, status: str, error: str) -> None:
        PLATFORM_API_ERRORS.labels(PLATFORM, status).inc()
        log.warning("slack delivery failed method=%s status=%s error=%s", method, status, error)
