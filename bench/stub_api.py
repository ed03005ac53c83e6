"""A fast stand-in for api.line.me and slack.com/api, for bench/http_bench.py only.

A bare asyncio HTTP/1.1 server (keep-alive, Content-Length bodies): the benchmark measures
our server, so the stub must cost next to nothing. It answers every call 200 with the
shape the clients expect, and counts what it got: replies by reply token (so a token used
twice or never is visible), pushes by retry key, loading animations, Slack calls.

    python bench/stub_api.py --port 9100            # GET /_stats, POST /_reset

Not a test double: tests/integration/line_stub.py is the faithful one (single-use reply
tokens, 409 on a retry key used twice, queued failures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from typing import Any

_LINE_SENT = b'{"sentMessages":[{"id":"1","quoteToken":"q"}]}'
_SLACK_OK = b'{"ok":true,"channel":"D0BENCH","ts":"1700000000.000100"}'
_SLACK_OPEN = b'{"ok":true,"channel":{"id":"D0BENCH"}}'


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.calls: Counter[str] = Counter()
        self.reply_tokens: Counter[str] = Counter()
        self.push_keys: Counter[str] = Counter()

    def as_json(self) -> bytes:
        replies = sum(self.reply_tokens.values())
        pushes = sum(self.push_keys.values())
        return json.dumps(
            {
                "calls": dict(self.calls),
                "replies": replies,
                "distinct_reply_tokens": len(self.reply_tokens),
                "tokens_used_twice": sum(1 for n in self.reply_tokens.values() if n > 1),
                "pushes": pushes,
                "distinct_push_keys": len(self.push_keys),
            }
        ).encode()


STATS = Stats()


def _answer(status: int, body: bytes, keep_alive: bool) -> bytes:
    reason = {200: "OK", 404: "Not Found"}.get(status, "OK")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nx-line-request-id: bench\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode() + body


def _route(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    STATS.calls[path] += 1
    if path == "/_stats":
        return 200, STATS.as_json()
    if path == "/_reset":
        STATS.reset()
        return 200, b"{}"
    if path == "/v2/bot/message/reply":
        doc: Any = json.loads(body)
        STATS.reply_tokens[str(doc.get("replyToken"))] += 1
        return 200, _LINE_SENT
    if path == "/v2/bot/message/push":
        STATS.push_keys[headers.get("x-line-retry-key", "-")] += 1
        return 200, _LINE_SENT
    if path.startswith("/v2/bot/"):
        return 200, b"{}"
    if path.endswith("conversations.open"):
        return 200, _SLACK_OPEN
    if path.startswith("/api/") or path.startswith("/response/"):
        return 200, _SLACK_OK
    return 404, b'{"message":"not found"}'


class _Http(asyncio.Protocol):
    def __init__(self) -> None:
        self._buf = b""
        self._transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # uvloop's transports are not asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self._buf[:end].decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            size = int(headers.get("content-length", "0"))
            if len(self._buf) < end + 4 + size:
                return
            body = self._buf[end + 4 : end + 4 + size]
            self._buf = self._buf[end + 4 + size :]
            status, payload = _route(method, path.split("?", 1)[0], headers, body)
            keep = headers.get("connection", "").lower() != "close"
            self._transport.write(_answer(status, payload, keep))
            if not keep:
                self._transport.close()
                return


async def main(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(args.host, args.port))
