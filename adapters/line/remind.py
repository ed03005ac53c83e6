"""Sending a due reminder on LINE: a push (billed by LINE), whose retry key is the
reminder's delivery id, so a push repeated after a lost answer or by another worker
reaches the customer once."""

from __future__ import annotations

from adapters.line.render import render_reply
from adapters.line.send import Delivery, LineClient, LineSender
from core.inbound import ConversationKey
from core.reply import Reply


class LineReminderSender:
    def __init__(self, access_token: str, api_base_url: str) -> None:
        self._token = access_token
        self._base = api_base_url
        self._client: LineClient | None = None
        self._sender: LineSender | None = None

    async def start(self) -> None:
        # The aiohttp session binds to the running loop: built here, not in __init__.
        self._client = LineClient(access_token=self._token, base_url=self._base)
        await self._client.start()
        self._sender = LineSender(self._client)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = self._sender = None

    async def __call__(self, key: ConversationKey, delivery_id: str, reply: Reply) -> bool:
        if self._sender is None:
            raise RuntimeError("LineReminderSender used before start()")
        # A group or room conversation is reminded there; a 1:1 one in the user's chat.
        to = key.workspace if key.workspace != "-" else key.user
        got = await self._sender.push(render_reply(reply), to=to, event_id=delivery_id)
        return got in (Delivery.PUSH, Delivery.ALREADY)
