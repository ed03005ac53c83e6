"""Calendar helpers: JST dates and the Japanese formats customers read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.policy.calendar import (
    JST,
    format_date_ja,
    format_datetime_ja,
    format_month_ja,
    month_end,
    to_jst,
    today_jst,
)


@pytest.mark.parametrize(
    ("d", "end"),
    [
        (date(2026, 1, 15), date(2026, 1, 31)),
        (date(2026, 4, 1), date(2026, 4, 30)),
        (date(2026, 2, 10), date(2026, 2, 28)),
        (date(2028, 2, 1), date(2028, 2, 29)),
        (date(2028, 2, 29), date(2028, 2, 29)),
        (date(2100, 2, 3), date(2100, 2, 28)),  # not a leap year
        (date(2026, 12, 31), date(2026, 12, 31)),
    ],
)
def test_month_end(d: date, end: date) -> None:
    assert month_end(d) == end


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_month_end_is_the_last_day_of_the_same_month(d: date) -> None:
    end = month_end(d)
    assert (end.year, end.month) == (d.year, d.month)
    assert end >= d
    assert (end + timedelta(days=1)).day == 1


def test_format_date_ja_has_weekday() -> None:
    assert format_date_ja(date(2026, 11, 30)) == "2026年11月30日(月)"
    assert format_date_ja(date(2026, 1, 4)) == "2026年1月4日(日)"
    assert format_date_ja(date(2028, 2, 29)) == "2028年2月29日(火)"


def test_format_month_ja() -> None:
    assert format_month_ja(date(2026, 11, 30)) == "2026年11月"
    assert format_month_ja(date(2022, 2, 1)) == "2022年2月"


def test_format_datetime_ja_shows_tokyo_time_for_a_utc_instant() -> None:
    # 11:00 UTC on the 30th is 20:00 in Tokyo.
    assert format_datetime_ja(datetime(2026, 11, 30, 11, 0, tzinfo=UTC)) == (
        "2026年11月30日(月) 20:00"
    )
    # 16:30 UTC on the 30th is already the 1st in Tokyo.
    assert format_datetime_ja(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == (
        "2026年12月1日(火) 01:30"
    )


def test_a_naive_datetime_is_read_as_jst_wall_clock_time(server_tz: str) -> None:
    # One rule everywhere (the CLI's --now says so): never the server's own zone.
    naive = datetime(2026, 11, 30, 23, 30)
    assert to_jst(naive) == datetime(2026, 11, 30, 23, 30, tzinfo=JST)
    assert today_jst(naive) == date(2026, 11, 30)
    assert format_datetime_ja(naive) == "2026年11月30日(月) 23:30"
    assert format_date_ja(naive) == "2026年11月30日(月)"


def test_today_jst_rolls_over_at_tokyo_midnight() -> None:
    assert today_jst(datetime(2026, 12, 31, 14, 59, tzinfo=UTC)) == date(2026, 12, 31)
    assert today_jst(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == date(2027, 1, 1)
    new_york = timezone(timedelta(hours=-5))
    assert today_jst(datetime(2026, 12, 31, 10, 0, tzinfo=new_york)) == date(2027, 1, 1)


def test_results_do_not_depend_on_the_server_zone(server_tz: str) -> None:
    instant = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 2026-12-01 00:30 JST
    assert to_jst(instant).tzinfo is JST
    assert today_jst(instant) == date(2026, 12, 1)
    assert format_datetime_ja(instant) == "2026年12月1日(火) 00:30"
    assert format_date_ja(instant) == "2026年12月1日(火)"
