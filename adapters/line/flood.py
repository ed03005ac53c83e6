"""Per-conversation flood control: a small token bucket per conversation, in this process.

A user (or a script with their account) sending 30 messages a second would otherwise run
30 turns, 30 commits racing on one session and 30 replies. Each conversation may spend
`burst` turns at once and earns `per_second` back; the first event over the limit gets one
polite slow-down notice, the rest are dropped quietly until the bucket refills.

In process, not in Redis: the bucket is checked before the turn, and keeping it in Redis
would add a round trip to every turn (a turn costs exactly two). With N replicas a flooder
can get N buckets' worth, which still bounds them; everyone else is never touched, since
a bucket is only ever drained by its own conversation. Memory is bounded: at most
`max_conversations` buckets are kept, the least recently used dropped first (a dropped
bucket is a full one, which only favours the user).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

BURST = 10  # turns one conversation may take at once: far above a person tapping quickly
PER_SECOND = 1.0  # turns earned back per second
MAX_CONVERSATIONS = 50_000  # buckets kept (≈ 100 bytes each)


class Verdict(StrEnum):
    RUN = "run"  # within the limit: run the turn
    NOTICE = "notice"  # the first event over the limit: say "slow down" once
    DROP = "drop"  # over the limit, already told: ignore


@dataclass
class _Bucket:
    tokens: float
    at: float
    told: bool = False


class FloodGate:
    def __init__(
        self,
        *,
        burst: int = BURST,
        per_second: float = PER_SECOND,
        max_conversations: int = MAX_CONVERSATIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or per_second <= 0 or max_conversations < 1:
            raise ValueError("burst, per_second and max_conversations must be positive")
        self.burst = burst
        self.per_second = per_second
        self._max = max_conversations
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def admit(self, conversation: str) -> Verdict:
        now = self._clock()
        bucket = self._buckets.get(conversation)
        if bucket is None:
            bucket = self._buckets[conversation] = _Bucket(tokens=float(self.burst), at=now)
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(conversation)
            earned = max(now - bucket.at, 0.0) * self.per_second
            bucket.tokens = min(float(self.burst), bucket.tokens + earned)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.told = False
            return Verdict.RUN
        if bucket.told:
            return Verdict.DROP
        bucket.told = True
        return Verdict.NOTICE
