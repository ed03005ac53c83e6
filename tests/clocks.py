"""A clock the test moves by hand, so hours and days pass without anyone waiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.clock import to_jst


@dataclass
class MovingClock:
    at: datetime

    def now(self) -> datetime:
        return to_jst(self.at)
