"""/metrics for `iijmio-bot worker`, which has no HTTP server of its own.

Its counters (iijbot_reminders_total: pushes sent, capped, failed …) live in the worker's
process, so without this a deployment that sends reminders apart from `serve` would see
none of them. Served like serve's /metrics: only to "Authorization: Bearer
<IIJBOT_METRICS_TOKEN>", and not at all without a token. A thread with the standard
library's WSGI server: a scrape never waits on, or stalls, the worker's event loop.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, make_wsgi_app

log = logging.getLogger("iijbot.remind")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # wsgiref writes every request to stderr, past our redacting log handler.
        return


def metrics_app(token: str) -> WSGIApp:
    metrics = make_wsgi_app(REGISTRY)
    expected = f"Bearer {token}".encode()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            return _json(start_response, "404 Not Found", {"error": "not found"})
        given = str(environ.get("HTTP_AUTHORIZATION", "")).encode()
        if not hmac.compare_digest(given, expected):
            return _json(
                start_response,
                "401 Unauthorized",
                {"error": "metrics need a bearer token"},
                [("WWW-Authenticate", "Bearer")],
            )
        return metrics(environ, start_response)  # type: ignore[no-any-return]

    return app


def _json(
    start_response: StartResponse,
    status: str,
    doc: dict[str, str],
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"), *(headers or [])])
    return [body]


class MetricsServer:
    def __init__(self, host: str, port: int, token: str) -> None:
        self._server = make_server(
            host, port, metrics_app(token), server_class=_Server, handler_class=_Quiet
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="worker-metrics", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        log.info("worker metrics served", extra={"port": self._server.server_port})

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
