"""The clocks a process can run on: the wall's, and one shifted to another start."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from core.clock import JST, ShiftedClock, SystemClock


def test_a_shifted_clock_starts_where_it_is_told_and_runs_on() -> None:
    start = datetime(2026, 11, 20, 12, 0, tzinfo=JST)
    clock = ShiftedClock(start)
    first = clock.now()
    assert timedelta(0) <= first - start < timedelta(seconds=5)
    time.sleep(0.02)
    assert clock.now() > first  # it runs: a worker on it still sees reminders come due
    assert first.utcoffset() == timedelta(hours=9)


def test_a_start_given_in_another_zone_is_the_same_instant() -> None:
    clock = ShiftedClock(datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    assert clock.now().astimezone(JST).hour == 12


def test_the_system_clock_is_in_tokyo_whatever_the_server_zone() -> None:
    assert SystemClock().now().utcoffset() == timedelta(hours=9)
