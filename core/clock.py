"""The clock seam: the core never reads the system time itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in Asia/Tokyo."""
        ...


class SystemClock:
    def now(self) -> datetime:
        # Aware "now" converted to JST, so the server's own TZ never matters.
        return datetime.now(JST)


@dataclass(frozen=True)
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        at = self.at if self.at.tzinfo is not None else self.at.replace(tzinfo=JST)
        return at.astimezone(JST)
