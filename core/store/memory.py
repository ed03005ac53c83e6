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

from core.events import TurnEvent
from core.inbound import ConversationKey
from core.metrics import EVENTS_RECORDED
from core.session import Session
from core.store.base import (
    DAY_MS,
    DEFAULT_EVENTS_MAXLEN,
    DEFAULT_EVENTS_RETENTION_DAYS,
    DEFAULT_SESSION_TTL,
    EVENT_TTL,
    EXPIRED_MARKER_TTL,
    CommitStatus,
    Loaded,
    decode_session,
    event_key,
    loaded,
    marker_key,
    reminders_key,
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
        events_retention_days: int = DEFAULT_EVENTS_RETENTION_DAYS,
        events_maxlen: int = DEFAULT_EVENTS_MAXLEN,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be a positive number of seconds")
        if events_retention_days <= 0 or events_maxlen <= 0:
            raise ValueError("event retention and maxlen must be positive")
        self._ttl = ttl
        self._clock = clock
        self._data: dict[str, _Entry] = {}
        self._lock = asyncio.Lock()
        self._commits = 0
        # The event stream: (id, event) oldest first, ids "<ms>-<seq>" like Redis gives.
        self._events: list[tuple[tuple[int, int], TurnEvent]] = []
        self._retention_ms = events_retention_days * DAY_MS
        self._maxlen = events_maxlen

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
        event: TurnEvent | None = None,
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
            if event is not None:
                self._append(event)
            self._commits += 1
            if self._commits % _SWEEP_EVERY == 0:
                self._sweep(now)
            return CommitStatus.OK

    def _append(self, event: TurnEvent) -> None:
        event = TurnEvent.from_fields(event.to_fields())  # stored as Redis stores it
        last = self._events[-1][0] if self._events else (0, -1)
        # Like XADD <ms>-*: the turn's own time, never ahead of the wall clock (as Redis'
        # TIME bounds it), unless a later entry is already there.
        ms = min(event.ts_ms, int(time.time() * 1000))
        entry_id = (ms, 0) if ms > last[0] else (last[0], last[1] + 1)
        self._events.append((entry_id, event))
        minid = ms - self._retention_ms
        self._events = [(i, e) for i, e in self._events if i[0] >= minid][-self._maxlen :]
        EVENTS_RECORDED.labels(event.platform).inc()

    async def record(self, key: ConversationKey, event: TurnEvent) -> bool:
        async with self._lock:
            self._append(event)
        return True

    async def remember(self, key: ConversationKey, event_id: str) -> None:
        async with self._lock:
            self._set(event_key(key, event_id), "1", EVENT_TTL, self._clock())

    async def erase(self, key: ConversationKey, conv: str | None) -> None:
        async with self._lock:
            for k in (session_key(key), marker_key(key), reminders_key(key)):
                self._data.pop(k, None)
            if conv is not None:
                self._events = [(i, e) for i, e in self._events if e.conv != conv]

    async def read_events(self, since_ms: int, until_ms: int | None = None) -> list[TurnEvent]:
        async with self._lock:
            return sorted(
                (
                    e
                    for _, e in self._events
                    if e.ts_ms >= since_ms and (until_ms is None or e.ts_ms < until_ms)
                ),
                key=lambda e: e.ts_ms,
            )

    def _sweep(self, now: float) -> None:
        for k in [k for k, e in self._data.items() if e.expires_at <= now]:
            del self._data[k]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        async with self._lock:
            self._data.clear()
