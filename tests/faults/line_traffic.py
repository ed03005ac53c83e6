"""LINE traffic for the fault tests: signed webhook posts from many users to one or more
`serve` processes, and the bookkeeping that reads back, per event, what LINE delivered.

The stub LINE API (tests/integration/line_stub.py) runs in the test's event loop; every
reply token is issued by it, so a reply names its event and a second reply is visible.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.line.texts import say
from tests.integration.line_stub import CHANNEL_SECRET, LineStub, sign

BUSY = say("busy")
# Texts that each commit a turn and never end the conversation (the shipped flow answers
# all of them with a node to stay at), so a session's version counts its committed turns.
TEXTS = (
    "こんにちは",
    "解約したい",
    "ヘルプ",
    "戻る",
    "MNPで転出したい",
    "今月末に解約するといつまで使えますか",
    "メニュー",
    "わからない",
)
DELIVERY_BOUND = 120.0  # seconds for the background replies to reach the stub


@dataclass
class Sent:
    event_id: str
    user: str
    token: str
    status: int


@dataclass
class Traffic:
    stub: LineStub
    http: httpx.AsyncClient
    secret: str = CHANNEL_SECRET
    sent: list[Sent] = field(default_factory=list)

    def event(
        self, user: str, text: str, *, event_id: str | None = None, token: str | None = None
    ) -> dict[str, Any]:
        return {
            "type": "message",
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user},
            "webhookEventId": event_id or f"01F{uuid.uuid4().hex[:23].upper()}",
            "deliveryContext": {"isRedelivery": token is not None},
            "replyToken": token or self.stub.issue_reply_token(),
            "message": {"type": "text", "id": uuid.uuid4().hex[:18], "text": text},
        }

    async def post(self, base_url: str, *events: dict[str, Any]) -> int:
        body = json.dumps({"destination": "Ubot", "events": list(events)}, ensure_ascii=False)
        raw = body.encode("utf-8")
        headers = {
            "content-type": "application/json; charset=utf-8",
            "x-line-signature": sign(raw, self.secret),
        }
        resp = await self.http.post(f"{base_url}/line/webhook", content=raw, headers=headers)
        status = resp.status_code
        for ev in events:
            user = ev["source"]["userId"]
            self.sent.append(Sent(ev["webhookEventId"], user, ev["replyToken"], status))
        return resp.status_code

    async def text(self, base_url: str, user: str, text: str) -> dict[str, Any]:
        ev = self.event(user, text)
        await self.post(base_url, ev)
        return ev

    # ---- what LINE delivered -------------------------------------------------------------

    def replies_by_token(self) -> Counter[str]:
        return Counter(d.target for d in self.stub.delivered if d.method == "reply")

    def reply_attempts_by_token(self) -> Counter[str]:
        return Counter(
            str(r.body.get("replyToken"))
            for r in self.stub.calls("/v2/bot/message/reply")
            if isinstance(r.body, dict)
        )

    def pushes(self) -> int:
        return sum(1 for d in self.stub.delivered if d.method == "push")

    def texts_of(self, token: str) -> list[str]:
        return [
            m.get("text", m.get("altText", ""))
            for d in self.stub.delivered
            if d.method == "reply" and d.target == token
            for m in d.messages
        ]

    def is_busy(self, token: str) -> bool:
        return self.texts_of(token) == [BUSY]

    async def wait_delivered(self, tokens: set[str]) -> None:
        """Until every token has its reply (or fail after DELIVERY_BOUND)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DELIVERY_BOUND
        while True:
            missing = tokens - set(self.replies_by_token())
            if not missing:
                return
            if loop.time() > deadline:
                raise AssertionError(f"{len(missing)} events never got a reply")
            await asyncio.sleep(0.05)
