"""The floors bench/http_bench.py compares `iijmio-bot serve` with: the least a LINE webhook
could do on this machine, served the same way as the real server (same uvicorn settings,
same event loop, same process count).

- a: verify the signature, answer 200.
- b: a + the 2 Redis round trips a turn needs (the real store's load and commit scripts
  on a small session, keyed by the event's user and event id).
- c: b + one outbound reply per event to the stub LINE API (prebuilt JSON, one long-lived
  aiohttp session), sent after the 200 like the real adapter does.

Started by http_bench.py as `uvicorn bench.floors:create --factory` with BENCH_FLOOR=a|b|c,
LINE_CHANNEL_SECRET, REDIS_URL and LINE_API_BASE_URL in the environment.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.inbound import ConversationKey
from core.session import Session
from core.store.redis import RedisSessionStore

_PREBUILT = (
    '{"type":"text","text":"ご用件を選んでください。文章で送っていただいても大丈夫です。",'
    '"quickReply":{"items":[{"type":"action","action":{"type":"postback","label":"解約の手順",'
    '"data":"n=menu&v=cancel","displayText":"解約の手順"}}]}}'
)


def create() -> Starlette:
    floor = os.environ["BENCH_FLOOR"]
    secret = os.environ["LINE_CHANNEL_SECRET"].encode()
    state: dict[str, Any] = {}
    tasks: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if floor in ("b", "c"):
            state["store"] = RedisSessionStore(os.environ["REDIS_URL"])
        if floor == "c":
            state["http"] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256),
                trust_env=False,
                headers={"Authorization": "Bearer bench", "Content-Type": "application/json"},
            )
            state["url"] = os.environ["LINE_API_BASE_URL"].rstrip("/") + "/v2/bot/message/reply"
        yield
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if "http" in state:
            await state["http"].close()
        if "store" in state:
            await state["store"].close()

    async def reply(token: str) -> None:
        body = '{"replyToken":"' + token + '","messages":[' + _PREBUILT + "]}"
        async with state["http"].post(state["url"], data=body.encode()) as resp:
            await resp.read()

    async def webhook(request: Request) -> Response:
        body = await request.body()
        expected = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, request.headers.get("x-line-signature", "").encode()):
            return JSONResponse({"message": "invalid signature"}, status_code=400)
        if floor == "a":
            return JSONResponse({})
        store: RedisSessionStore = state["store"]
        tokens: list[str] = []
        for ev in json.loads(body)["events"]:
            key = ConversationKey("line", "-", ev["source"]["userId"])
            loaded = await store.load(key, ev["webhookEventId"])
            session = loaded.session or Session(node="menu")
            await store.commit(key, session, loaded.version, ev["webhookEventId"])
            tokens.append(ev["replyToken"])
        if floor == "c":
            for token in tokens:
                task = asyncio.create_task(reply(token))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        return JSONResponse({})

    return Starlette(routes=[Route("/line/webhook", webhook, methods=["POST"])], lifespan=lifespan)
