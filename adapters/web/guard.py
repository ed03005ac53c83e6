"""What a request must pass before it reaches a turn: an allowed Origin (CSRF), a JSON
content type, a small body, and a rate per session and per client address."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_BODY = 2048  # bytes: a typed message is capped at far less (core.limits); room for JSON
MAX_TEXT = 500  # characters a customer may type in one message


@dataclass(frozen=True)
class RateLimits:
    """Turns allowed per window. A person types a message every few seconds; a script that
    reuses one cookie or one address is stopped before it loads Redis."""

    per_session: int = 30
    per_address: int = 120
    window: float = 60.0


def normal_origin(origin: str) -> str | None:
    """scheme://host[:port] in lower case, default ports dropped; None when not an origin."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    port = parts.port
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


class Origins:
    """The page's own origin is always allowed; IIJBOT_WEB_ORIGINS adds the help pages."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.listed = tuple(o for o in (normal_origin(a) for a in allowed) if o)

    def allows(self, origin: str | None, own: str) -> bool:
        if not origin:
            return False
        found = normal_origin(origin)
        return found is not None and (found == normal_origin(own) or found in self.listed)


class SlidingWindow:
    """Counts hits per key over the last `window` seconds, in this process (each replica
    limits on its own; a load balancer's limit is the place for a global one)."""

    MAX_KEYS = 50_000  # bounded memory under a flood of new addresses or cookies

    def __init__(self, limit: int, window: float) -> None:
        self._limit = limit
        self._window = window
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        at = time.monotonic() if now is None else now
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.MAX_KEYS:
                self._sweep(at)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= at - self._window:
            hits.popleft()
        if len(hits) >= self._limit:
            return False
        hits.append(at)
        return True

    def _sweep(self, at: float) -> None:
        stale = [k for k, h in self._hits.items() if not h or h[-1] <= at - self._window]
        for k in stale:
            del self._hits[k]
        if len(self._hits) >= self.MAX_KEYS:  # all live: forget the oldest half
            for k in list(self._hits)[: self.MAX_KEYS // 2]:
                del self._hits[k]
