"""The in-memory session store: the local chat and unit tests, one process only.

It keeps the exact behaviour of the Redis store (versions, compare-and-swap, sliding TTL,
expiry marker, remembered event ids) so the contract suite can run against both. Sessions are
kept as their JSON, like Redis does, so nothing a caller holds can alias stored state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.inbound import ConversationKey
from core.session import Session
from core.store.base import (
    DEFAULT_SESSION_TTL,
    EVENT_TTL,
    EXPIRED_MARKER_TTL,
    CommitStatus,
    Loaded,
    decode_session,
    event_key,
    loaded,
    marker_key,
    session_key,
)

# Sweeping the whole table on every commit would be O(n) per turn; every this many commits
# is enough to keep forgotten event ids from piling up in a long-running local chat.
_SWEEP_EVERY = 256


@dataclass(frozen=True)
class _Entry:
    value: str
    expires_at: float


class MemorySessionStore:
    def __init__(
        self,
        *,
        ttl: int = DEFAULT_SESSION_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be a positive number of seconds")
        self._ttl = ttl
        self._clock = clock
        self._data: dict[str, _Entry] = {}
        self._lock = asyncio.Lock()
        self._commits = 0

    def _get(self, k: str, now: float) -> str | None:
        entry = self._data.get(k)
        if entry is None:
            return None
        if entry.expires_at <= now:
            del self._data[k]
            return None
        return entry.value

    def _set(self, k: str, value: str, ttl: int, now: float) -> None:
        self._data[k] = _Entry(value, now + ttl)

    async def load(self, key: ConversationKey, event_id: str | None = None) -> Loaded:
        async with self._lock:
            now = self._clock()
            raw = self._get(session_key(key), now)
            seen = self._get(marker_key(key), now) is not None
            evt = event_key(key, event_id) if event_id else None
            duplicate = evt is not None and self._get(evt, now) is not None
        return loaded(raw, marker=seen, duplicate=duplicate)

    async def commit(
        self,
        key: ConversationKey,
        session: Session | None,
        expected_version: int,
        event_id: str | None = None,
    ) -> CommitStatus:
        async with self._lock:
            now = self._clock()
            evt = event_key(key, event_id) if event_id else None
            if evt is not None and self._get(evt, now) is not None:
                return CommitStatus.DUPLICATE
            skey, mkey = session_key(key), marker_key(key)
            current = decode_session(self._get(skey, now))
            if (current.version if current is not None else 0) != expected_version:
                return CommitStatus.CONFLICT
            if session is None:
                self._data.pop(skey, None)
                self._data.pop(mkey, None)
            else:
                stored = replace(session, version=expected_version + 1)
                self._set(skey, stored.to_json(), self._ttl, now)
                self._set(mkey, "1", max(EXPIRED_MARKER_TTL, self._ttl), now)
            if evt is not None:
                self._set(evt, "1", EVENT_TTL, now)
            self._commits += 1
            if self._commits % _SWEEP_EVERY == 0:
                self._sweep(now)
            return CommitStatus.OK

    def _sweep(self, now: float) -> None:
        for k in [k for k, e in self._data.items() if e.expires_at <= now]:
            del self._data[k]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        async with self._lock:
            self._data.clear()
