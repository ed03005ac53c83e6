"""Sending a due reminder on Slack: chat.postMessage to the customer's DM with the app."""

from __future__ import annotations

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import render_reply
from adapters.slack.send import Destination, Method, SlackSender
from core.inbound import ConversationKey
from core.reply import Reply


class SlackReminderSender:
    def __init__(self, bot_token: str, api_url: str) -> None:
        self._token = bot_token
        self._api_url = api_url
        self._session: aiohttp.ClientSession | None = None
        self._sender: SlackSender | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        client = AsyncWebClient(
            token=self._token, base_url=self._api_url, session=self._session, timeout=10
        )
        self._sender = SlackSender(client, self._session)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._sender = None

    async def __call__(self, key: ConversationKey, delivery_id: str, reply: Reply) -> bool:
        if self._sender is None:
            raise RuntimeError("SlackReminderSender used before start()")
        return await self._sender.deliver(
            Destination(Method.DM, user=key.user), render_reply(reply)
        )
