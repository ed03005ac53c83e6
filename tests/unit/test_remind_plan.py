"""When reminders are due, for every deadline kind, with a fixed clock (issue 10)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from core.clock import JST
from core.dialogue.compute import REGISTRY, Context
from core.policy import load_rules
from core.remind.plan import (
    Schedule,
    Slot,
    due_times,
    end_of_day,
    load_schedule,
    parse_token,
)
from core.remind.service import format_due, remind_choice


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=JST)


def remind_of(comp: str, answers: dict[str, str], now: datetime) -> str:
    ctx = Context(answers=answers, now=now, rules=load_rules())
    return REGISTRY[comp].run(ctx)["remind"]


def dues(token: str, now: datetime) -> list[str]:
    parsed = parse_token(token)
    assert parsed is not None, token
    return [format_due(t) for t in due_times(parsed[0], parsed[1], now)]


def test_initial_cancellation_the_morning_before_and_of_the_last_day() -> None:
    # Receipt 11/20 is day 1: the last day is 11/27 (R4).
    token = remind_of("initial", {"received_date": "2026-11-20"}, at(2026, 11, 20, 10))
    assert dues(token, at(2026, 11, 20, 10)) == ["11月26日(木) 9:00", "11月27日(金) 9:00"]
    # Asked on the day before after 9:00: only the last morning is left.
    assert dues(token, at(2026, 11, 26, 12)) == ["11月27日(金) 9:00"]


def test_initial_cancellation_past_offers_no_reminder() -> None:
    assert remind_of("initial", {"received_date": "2026-11-01"}, at(2026, 11, 20, 10)) == ""


def test_last_day_after_nine_offers_no_button() -> None:
    token = remind_of("initial", {"received_date": "2026-11-20"}, at(2026, 11, 27, 10))
    assert token  # still possible today...
    assert remind_choice(token, at(2026, 11, 27, 10)) is None  # ...but no time is left
    assert remind_choice(token, at(2026, 11, 27, 8)) is not None


def test_withdrawal_at_five_pm_on_the_scheduled_day() -> None:
    token = remind_of("withdraw", {"cancel_day": "2026-11-10"}, at(2026, 11, 25, 12))
    assert token == "withdraw:2026-11-30T20:00"
    assert dues(token, at(2026, 11, 25, 12)) == ["11月30日(月) 17:00"]
    assert dues(token, at(2026, 11, 30, 18)) == []  # 17:00 gone; 20:00 not yet, no slot
    assert remind_of("withdraw", {"cancel_day": "2026-11-10"}, at(2026, 11, 30, 20)) == ""


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (at(2026, 11, 5, 12), "11月30日(月) 9:00"),  # 30 days
        (at(2026, 12, 5, 12), "12月31日(木) 9:00"),  # 31 days
        (at(2026, 2, 5, 12), "2月28日(土) 9:00"),  # 28 days
        (at(2028, 2, 5, 12), "2月29日(火) 9:00"),  # leap year
    ],
)
def test_this_months_cancellation_on_the_months_last_morning(today: datetime, due: str) -> None:
    assert dues(remind_of("cancel_today", {}, today), today) == [due]


def test_this_months_cancellation_on_the_last_day_after_nine_has_nothing_left() -> None:
    now = at(2026, 1, 31, 10)
    assert dues(remind_of("cancel_today", {}, now), now) == []


def test_minimum_period_the_day_the_rule_switches() -> None:
    # Start 2023-11-15. Asked 11/30 the old rule ends the period 12/31: remind 1/1.
    old = remind_of("min_period", {"start_date": "2023-11-15"}, at(2023, 11, 30, 12))
    assert dues(old, at(2023, 11, 30, 12)) == ["1月1日(月) 9:00"]
    # Asked 12/1 the new rule ended it 11/30: nothing restricts a cancellation, no reminder.
    assert remind_of("min_period", {"start_date": "2023-11-15"}, at(2023, 12, 1, 12)) == ""


def test_minimum_period_the_first_free_morning() -> None:
    # New rule: start 2026-01-31 → period ends 1/31; asked on that day → remind 2/1 9:00.
    token = remind_of("min_period", {"start_date": "2026-01-31"}, at(2026, 1, 31, 10))
    assert dues(token, at(2026, 1, 31, 10)) == ["2月1日(日) 9:00"]


def test_voice_penalty_window_ends() -> None:
    # Usage from 2026-03: month 12 is 2027-02, so 2027-03-01 is the first free day.
    answers = {"start_date": "2026-03-10", "voice_end": "2026-11-30"}
    token = remind_of("voice_penalty", answers, at(2026, 11, 25, 12))
    assert dues(token, at(2026, 11, 25, 12)) == ["3月1日(月) 9:00"]
    free = {"start_date": "2024-03-10", "voice_end": "2026-11-30"}
    assert remind_of("voice_penalty", free, at(2026, 11, 25, 12)) == ""


def test_mnp_number_fewer_than_ten_days_left_and_the_last_day() -> None:
    # R8: issued 11/20 → valid through 12/4; on 11/26 9 days are left (the day counted).
    token = remind_of("mnp_number", {"mnp_issued_date": "2026-11-20"}, at(2026, 11, 20, 12))
    assert token == "mnp:2026-12-04T23:59"
    assert dues(token, at(2026, 11, 20, 12)) == ["11月26日(木) 9:00", "12月4日(金) 9:00"]
    assert remind_of("mnp_number", {"mnp_issued_date": "2026-11-20"}, at(2026, 12, 5, 9)) == ""


def test_mnp_number_card_says_how_many_days_are_left() -> None:
    ctx = Context({"mnp_issued_date": "2026-11-20"}, at(2026, 11, 27, 12), load_rules())
    assert "8日" in REGISTRY["mnp_number"].run(ctx)["status"]  # fewer than 10: warned


def quiet(slots: tuple[Slot, ...]) -> Schedule:
    base = load_schedule()
    plan = base.kinds["initial"]
    kinds = {"initial": type(plan)("initial", plan.topic, plan.url, slots)}
    return Schedule(base.quiet_start, base.quiet_end, base.late_after, kinds)


def test_quiet_hours_move_to_eight() -> None:
    deadline = end_of_day(date(2026, 11, 27))
    early = quiet((Slot(1, time(6, 30)),))
    assert due_times("initial", deadline, at(2026, 11, 20), early) == (at(2026, 11, 26, 8),)
    late = quiet((Slot(1, time(22, 0)),))  # the evening before the day before: next morning
    assert due_times("initial", deadline, at(2026, 11, 20), late) == (at(2026, 11, 27, 8),)


def test_never_after_the_deadline() -> None:
    # 22:00 on the last day moves to 8:00 the next day, after the deadline: dropped.
    late = quiet((Slot(0, time(22, 0)),))
    assert due_times("initial", end_of_day(date(2026, 11, 27)), at(2026, 11, 20), late) == ()


def test_a_deadline_already_past_gets_nothing() -> None:
    assert due_times("initial", at(2026, 11, 27, 23, 59), at(2026, 11, 28, 9)) == ()
    assert due_times("no_such_kind", at(2026, 12, 1), at(2026, 11, 1)) == ()
