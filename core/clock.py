"""Time as the customer lives it: Asia/Tokyo, whatever the server's TZ.

The clock seam (the core never reads the system time itself), and the one rule for
datetimes without a zone: a naive datetime is JST wall-clock time (as `--now` of the
CLI and FixedClock read it), never the server's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")

_WEEKDAYS_JA = "月火水木金土日"


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in Asia/Tokyo."""
        ...


class SystemClock:
    def now(self) -> datetime:
        # Aware "now" converted to JST, so the server's own TZ never matters.
        return datetime.now(JST)


class ShiftedClock:
    """The wall clock moved to start at `start`: time runs on from there. For a worker
    rehearsing (or tested at) another hour than the wall's: the quiet hours and the
    deadlines are read at the shifted time."""

    def __init__(self, start: datetime) -> None:
        self._offset = to_jst(start) - datetime.now(JST)

    def now(self) -> datetime:
        return datetime.now(JST) + self._offset


@dataclass(frozen=True)
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return to_jst(self.at)


def to_jst(dt: datetime) -> datetime:
    """The same instant in JST; a naive datetime is taken to be JST already."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        return dt.replace(tzinfo=JST)
    return dt.astimezone(JST)


def today_jst(now: datetime) -> date:
    """The calendar day in Tokyo at that instant (naive: read as JST)."""
    return to_jst(now).date()


def format_date_ja(d: date) -> str:
    """A date as customers read it: 2026年11月30日(月). A datetime counts by its JST day."""
    if isinstance(d, datetime):
        d = today_jst(d)
    return f"{d.year}年{d.month}月{d.day}日({_WEEKDAYS_JA[d.weekday()]})"


def format_day_ja(d: date) -> str:
    """A date within the year, as short lines read it: 11月26日(木)."""
    if isinstance(d, datetime):
        d = today_jst(d)
    return f"{d.month}月{d.day}日({_WEEKDAYS_JA[d.weekday()]})"
