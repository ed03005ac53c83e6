"""The date calculators: the dates and amounts a customer is told."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.policy.calculators import (
    cancellation_effective,
    first_month_proration,
    initial_cancellation,
    minimum_period,
    mnp_out,
    voice_penalty,
    withdrawal,
)
from core.policy.calendar import JST
from core.policy.rules import RuleBook, load_rules

BOOK = load_rules()
DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


# R1


@pytest.mark.parametrize(
    ("applied", "effective"),
    [
        (date(2026, 11, 24), date(2026, 11, 30)),
        (date(2026, 12, 1), date(2026, 12, 31)),
        (date(2027, 2, 1), date(2027, 2, 28)),
        (date(2028, 2, 29), date(2028, 2, 29)),
        (date(2026, 1, 31), date(2026, 1, 31)),
    ],
)
def test_cancellation_takes_effect_at_month_end(applied: date, effective: date) -> None:
    result = cancellation_effective(applied, BOOK)
    assert result.effective_on == effective
    assert result.rule.id == "R1"


@given(DATES)
def test_cancellation_effective_is_last_day_of_applied_month(applied: date) -> None:
    eff = cancellation_effective(applied, BOOK).effective_on
    assert eff >= applied
    assert (eff.year, eff.month) == (applied.year, applied.month)
    assert (eff + timedelta(days=1)).day == 1


# R2


def test_first_month_is_prorated_by_day() -> None:
    r = first_month_proration(date(2026, 11, 21), 990, BOOK)
    assert (r.days_used, r.days_in_month) == (10, 30)
    assert r.ratio == Fraction(1, 3)
    assert r.amount_yen == 330
    assert r.cancellation_month_prorated is False
    assert r.rule.id == "R2"


def test_proration_rounds_down_to_the_yen() -> None:
    r = first_month_proration(date(2026, 1, 15), 850, BOOK)  # 17/31 of 850 = 466.1…
    assert (r.days_used, r.days_in_month) == (17, 31)
    assert r.amount_yen == 466


def test_proration_on_leap_day_is_one_twenty_ninth() -> None:
    r = first_month_proration(date(2028, 2, 29), 2900, BOOK)
    assert (r.days_used, r.days_in_month) == (1, 29)
    assert r.ratio == Fraction(1, 29)
    assert r.amount_yen == 100


def test_proration_without_fee_gives_days_but_no_amount() -> None:
    r = first_month_proration(date(2026, 12, 1), None, BOOK)
    assert (r.days_used, r.days_in_month, r.amount_yen) == (31, 31, None)
    assert r.ratio == 1


@given(DATES, st.integers(min_value=0, max_value=100_000))
def test_proration_never_exceeds_the_monthly_fee(start: date, fee: int) -> None:
    r = first_month_proration(start, fee, BOOK)
    assert 1 <= r.days_used <= r.days_in_month
    assert r.amount_yen is not None and 0 <= r.amount_yen <= fee


# R3


def test_minimum_period_asked_today_ends_same_month() -> None:
    r = minimum_period(date(2026, 11, 10), date(2026, 11, 24), BOOK)
    assert r.period_end == date(2026, 11, 30)
    assert r.earliest_effective_cancellation == date(2026, 11, 30)
    assert r.inside_period
    assert r.rule.params["kind"] == "same_month_end"


def test_minimum_period_under_old_rule_ends_next_month() -> None:
    r = minimum_period(date(2023, 6, 20), date(2023, 6, 25), BOOK)
    assert r.period_end == date(2023, 7, 31)
    assert r.earliest_effective_cancellation == date(2023, 7, 31)
    assert r.inside_period
    assert r.rule.effective_to == date(2023, 11, 30)


def test_rule_is_chosen_by_the_day_asked_not_the_start() -> None:
    before = minimum_period(date(2023, 11, 15), date(2023, 11, 30), BOOK)
    after = minimum_period(date(2023, 11, 15), date(2023, 12, 1), BOOK)
    assert before.period_end == date(2023, 12, 31)
    assert before.inside_period
    assert after.period_end == date(2023, 11, 30)
    assert not after.inside_period
    assert after.earliest_effective_cancellation == date(2023, 12, 31)


def test_old_rule_crosses_the_year() -> None:
    r = minimum_period(date(2022, 12, 5), date(2022, 12, 10), BOOK)
    assert r.period_end == date(2023, 1, 31)


@given(DATES, DATES)
def test_earliest_cancellation_is_never_before_today_or_period_end(
    start: date, asked: date
) -> None:
    r = minimum_period(start, asked, BOOK)
    assert r.earliest_effective_cancellation >= asked
    assert r.earliest_effective_cancellation >= r.period_end
    assert r.period_end >= start


# R4


def test_initial_cancellation_counts_receipt_as_day_one() -> None:
    r = initial_cancellation(date(2026, 11, 20), date(2026, 11, 24), BOOK)
    assert r.last_day == date(2026, 11, 27)
    assert r.days_left == 3
    assert r.still_possible


def test_initial_cancellation_on_the_last_day_is_still_possible() -> None:
    r = initial_cancellation(date(2026, 11, 20), date(2026, 11, 27), BOOK)
    assert (r.days_left, r.still_possible) == (0, True)


def test_initial_cancellation_after_the_last_day_is_not_possible() -> None:
    r = initial_cancellation(date(2026, 11, 20), date(2026, 11, 28), BOOK)
    assert (r.days_left, r.still_possible) == (0, False)


def test_initial_cancellation_across_year_end() -> None:
    r = initial_cancellation(date(2026, 12, 28), date(2026, 12, 28), BOOK)
    assert r.last_day == date(2027, 1, 4)
    assert r.days_left == 7


@given(st.dates(min_value=date(2017, 1, 1), max_value=date(2099, 12, 31)))
def test_initial_last_day_is_always_receipt_plus_seven(received: date) -> None:
    r = initial_cancellation(received, received, BOOK)
    assert r.last_day == received + timedelta(days=7)
    assert r.still_possible


# R5


def test_withdrawal_deadline_is_20_00_jst_on_the_day() -> None:
    r = withdrawal(date(2026, 11, 30), datetime(2026, 11, 30, 19, 59, 59, tzinfo=JST), BOOK)
    assert r.deadline == datetime(2026, 11, 30, 20, 0, tzinfo=JST)
    assert r.possible


def test_withdrawal_at_20_00_is_too_late() -> None:
    r = withdrawal(date(2026, 11, 30), datetime(2026, 11, 30, 20, 0, 0, tzinfo=JST), BOOK)
    assert not r.possible


def test_withdrawal_the_day_after_is_too_late() -> None:
    r = withdrawal(date(2026, 11, 30), datetime(2026, 12, 1, 9, 0, tzinfo=JST), BOOK)
    assert not r.possible


def test_withdrawal_given_in_utc_is_judged_in_tokyo() -> None:
    scheduled = date(2026, 11, 30)
    just_before = withdrawal(scheduled, datetime(2026, 11, 30, 10, 59, 59, tzinfo=UTC), BOOK)
    at_deadline = withdrawal(scheduled, datetime(2026, 11, 30, 11, 0, tzinfo=UTC), BOOK)
    assert just_before.possible
    assert not at_deadline.possible
    assert at_deadline.at == datetime(2026, 11, 30, 20, 0, tzinfo=JST)


def test_withdrawal_reads_a_naive_time_as_tokyo_time(server_tz: str) -> None:
    # core.clock's one rule: naive = JST, whatever the server's zone.
    assert withdrawal(date(2026, 11, 30), datetime(2026, 11, 30, 19, 59), BOOK).possible
    assert not withdrawal(date(2026, 11, 30), datetime(2026, 11, 30, 20, 0), BOOK).possible


def test_results_unchanged_on_a_server_outside_tokyo(server_tz: str) -> None:
    at = datetime(2026, 11, 30, 10, 59, 59, tzinfo=UTC)  # 19:59:59 JST
    r = withdrawal(date(2026, 11, 30), at, BOOK)
    assert r.possible
    assert r.deadline.utcoffset() == timedelta(hours=9)
    assert r.deadline == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    assert not withdrawal(date(2026, 11, 30), at + timedelta(seconds=1), BOOK).possible
    assert cancellation_effective(date(2026, 11, 24), BOOK).effective_on == date(2026, 11, 30)


# R6


def test_voice_penalty_counts_usage_start_month_as_month_one() -> None:
    r = voice_penalty(date(2021, 3, 10), date(2022, 1, 20), True, BOOK)
    assert r.last_month_charged == date(2022, 2, 1)
    assert r.applies
    assert r.amount_yen == 1000
    assert r.tax == "不課税"


def test_voice_penalty_last_day_of_month_twelve_still_charged() -> None:
    assert voice_penalty(date(2021, 3, 10), date(2022, 2, 28), True, BOOK).applies


def test_voice_penalty_ends_after_month_twelve() -> None:
    r = voice_penalty(date(2021, 3, 10), date(2022, 3, 1), True, BOOK)
    assert not r.applies
    assert r.amount_yen == 0
    assert r.reason == "after"


@pytest.mark.parametrize(
    ("plan_is_old", "to_data", "initial", "reason"),
    [
        (False, False, False, "giga_plan"),
        (True, True, False, "switched_to_data"),
        (True, False, True, "initial_cancellation"),
    ],
)
def test_voice_penalty_exemptions(
    plan_is_old: bool, to_data: bool, initial: bool, reason: str
) -> None:
    r = voice_penalty(
        date(2021, 3, 10),
        date(2021, 4, 1),
        plan_is_old,
        BOOK,
        switched_to_data=to_data,
        initial_cancellation=initial,
    )
    assert (r.applies, r.amount_yen, r.reason) == (False, 0, reason)


@given(DATES, st.integers(min_value=0, max_value=800))
def test_giga_plan_never_pays_the_voice_penalty(start: date, days: int) -> None:
    r = voice_penalty(start, start + timedelta(days=days), False, BOOK)
    assert not r.applies and r.amount_yen == 0


def test_voice_end_before_start_is_rejected() -> None:
    with pytest.raises(ValueError, match="before"):
        voice_penalty(date(2021, 3, 10), date(2021, 3, 9), True, BOOK)


# R7


def test_mnp_out_is_free_and_ends_when_the_port_completes() -> None:
    r = mnp_out(BOOK)
    assert r.fee_yen == 0
    assert r.line_ends == "転出完了時"
    assert r.month_billed_in_full
    assert r.rule.id == "R7"
    assert r.rule.covers(BOOK.as_of)


# Policy changes are data: a new version changes the answer without code changes.


def test_a_new_rule_version_changes_the_answer() -> None:
    r4 = BOOK.in_force("R4", date(2026, 11, 24))
    ended = dataclasses.replace(r4, effective_to=date(2026, 12, 31))
    longer = dataclasses.replace(
        r4, version=2, effective_from=date(2027, 1, 1), params=MappingProxyType({"days": 10})
    )
    others = tuple(v for v in BOOK.versions if v.id != "R4")
    book = RuleBook(as_of=BOOK.as_of, versions=(*others, ended, longer))
    old = initial_cancellation(date(2026, 12, 30), date(2026, 12, 31), book)
    new = initial_cancellation(date(2027, 1, 5), date(2027, 1, 5), book)
    assert old.last_day == date(2027, 1, 6)
    assert new.last_day == date(2027, 1, 14)
    assert new.rule.version == 2
