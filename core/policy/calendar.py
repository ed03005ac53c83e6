"""Dates as the customer lives them: in Asia/Tokyo, whatever the server's TZ."""

from __future__ import annotations

from datetime import date, datetime

from dateutil.relativedelta import relativedelta

from core.clock import JST, format_date_ja, to_jst, today_jst

# JST, to_jst, today_jst and format_date_ja live in core.clock (one rule for naive
# datetimes, and a date format the reply model can use without the policy); they are
# re-exported here so the policy's calendar stays one import.
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


def month_end(d: date) -> date:
    return _as_date(d) + relativedelta(day=31)


def month_start(d: date) -> date:
    return _as_date(d).replace(day=1)


def format_datetime_ja(dt: datetime) -> str:
    local = to_jst(dt)
    return f"{format_date_ja(local.date())} {local:%H:%M}"


def format_month_ja(d: date) -> str:
    d = _as_date(d)
    return f"{d.year}年{d.month}月"


def _as_date(d: date) -> date:
    # datetime is a date subclass; it is read on the JST calendar.
    return today_jst(d) if isinstance(d, datetime) else d
