"""`report --since/--until`: the period a team lead means by 7d, 24h or a date."""

from __future__ import annotations

from datetime import datetime

import pytest

from bots.report import period
from core.clock import JST

NOW = datetime(2026, 6, 22, 9, 30, tzinfo=JST)


@pytest.mark.parametrize(
    ("since", "start"),
    [
        ("7d", datetime(2026, 6, 15, 9, 30, tzinfo=JST)),
        ("24h", datetime(2026, 6, 21, 9, 30, tzinfo=JST)),
        ("2w", datetime(2026, 6, 8, 9, 30, tzinfo=JST)),
        ("2026-06-15", datetime(2026, 6, 15, 0, 0, tzinfo=JST)),  # a date is JST midnight
    ],
)
def test_since_forms(since: str, start: datetime) -> None:
    assert period(since, None, NOW) == (start, NOW)


def test_until_a_date_ends_the_period_at_its_jst_midnight() -> None:
    start, end = period("7d", "2026-06-22", NOW)
    assert end == datetime(2026, 6, 22, 0, 0, tzinfo=JST)
    assert start == datetime(2026, 6, 15, 0, 0, tzinfo=JST)


@pytest.mark.parametrize(("since", "until"), [("last week", None), ("2026-06-23", "2026-06-22")])
def test_a_period_that_makes_no_sense_is_refused(since: str, until: str | None) -> None:
    with pytest.raises(ValueError):
        period(since, until, NOW)
