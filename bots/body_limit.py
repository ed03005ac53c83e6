"""Refuse webhook bodies over a size limit before they are read into memory.

Webhook bodies are read whole before their signature can be checked, so without a limit
anyone can make the server hold an arbitrarily large unsigned body (200 MB took the
process from 235 MB to 831 MB before the 400). A declared Content-Length over the limit
is answered 413 at once, without reading a byte; a chunked body is counted while it
streams and answered 413 as soon as it passes the limit. A body within the limit is
buffered here and handed on unchanged, so the adapters read it as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.metrics import WEBHOOK_REQUESTS

# LINE batches events into bodies of a few KB, Slack's are smaller; 1 MB is far above any
# real webhook and small enough that many of them in flight cannot exhaust memory.
MAX_BODY_BYTES = 1024 * 1024


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, platforms: Mapping[str, str], limit: int) -> None:
        """platforms: path → platform label (for the metric) of each limited route."""
        self.app = app
        self.platforms = dict(platforms)
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        platform = self.platforms.get(scope.get("path", "")) if scope["type"] == "http" else None
        if platform is None:
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.limit:
            await self._refuse(platform, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(platform, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: disconnect notices, as usual

        await self.app(scope, replay, send)

    async def _refuse(self, platform: str, send: Send) -> None:
        WEBHOOK_REQUESTS.labels(platform=platform, result="too_large").inc()
        payload = json.dumps({"message": f"body over {self.limit} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    # The rest of the body is never read: the connection cannot be reused.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # the HTTP server refuses those itself
    return 0
