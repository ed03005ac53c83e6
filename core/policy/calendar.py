"""Dates as the customer lives them: in Asia/Tokyo, whatever the server's TZ."""

from __future__ import annotations

from datetime import date, datetime

from dateutil.relativedelta import relativedelta

from core.clock import JST

__all__ = [
    "JST",
    "format_date_ja",
    "format_datetime_ja",
    "format_month_ja",
    "month_end",
    "month_start",
    "to_jst",
    "today_jst",
]

_WEEKDAYS_JA = "月火水木金土日"


def to_jst(dt: datetime) -> datetime:
    # A naive datetime would silently take the server's zone: refuse it.
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"an aware datetime is required, got naive {dt!r}")
    return dt.astimezone(JST)


def today_jst(now: datetime) -> date:
    return to_jst(now).date()


def month_end(d: date) -> date:
    return _as_date(d) + relativedelta(day=31)


def month_start(d: date) -> date:
    return _as_date(d).replace(day=1)


def format_date_ja(d: date) -> str:
    d = _as_date(d)
    return f"{d.year}年{d.month}月{d.day}日({_WEEKDAYS_JA[d.weekday()]})"


def format_datetime_ja(dt: datetime) -> str:
    local = to_jst(dt)
    return f"{format_date_ja(local.date())} {local:%H:%M}"


def format_month_ja(d: date) -> str:
    d = _as_date(d)
    return f"{d.year}年{d.month}月"


def _as_date(d: date) -> date:
    # datetime is a date subclass; an aware one is read on the JST calendar.
    if isinstance(d, datetime):
        return to_jst(d).date()
    return d
