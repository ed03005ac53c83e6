"""The date rules R1–R8 as pure functions of the customer's dates and the rule book.

Each result carries the RuleVersion it used so a reply can cite its source, link and
effective dates. Which version applies is chosen by the day the question concerns
(for R3 explicitly the day it is asked, per the IIJ notice of 2023-10-30).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction

from dateutil.relativedelta import relativedelta

from core.policy.calendar import JST, month_end, month_start, to_jst
from core.policy.rules import RuleBook, RuleVersion, parse_hhmm


@dataclass(frozen=True)
class CancellationEffective:
    """R1: the line keeps working until effective_on, the applied month's last day."""

    applied_on: date
    effective_on: date
    rule: RuleVersion


def cancellation_effective(applied_on: date, book: RuleBook) -> CancellationEffective:
    rule = book.in_force("R1", applied_on)
    return CancellationEffective(applied_on, month_end(applied_on), rule)


@dataclass(frozen=True)
class FirstMonthProration:
    """R2: the first month is charged by day; the cancellation month never is."""

    start: date
    days_used: int  # start day to month end, both included
    days_in_month: int
    ratio: Fraction
    amount_yen: int | None  # None when the monthly fee is not known
    cancellation_month_prorated: bool
    rule: RuleVersion


def first_month_proration(
    start: date, monthly_fee_yen: int | None, book: RuleBook
) -> FirstMonthProration:
    rule = book.in_force("R2", start)
    end = month_end(start)
    days_used = (end - start).days + 1
    ratio = Fraction(days_used, end.day)
    amount: int | None = None
    if monthly_fee_yen is not None:
        if monthly_fee_yen < 0:
            raise ValueError(f"monthly fee cannot be negative: {monthly_fee_yen}")
        exact = monthly_fee_yen * ratio
        # Fraction floor/ceil are exact, unlike float rounding of yen amounts.
        amount = math.floor(exact) if rule.str_param("rounding") == "floor" else math.ceil(exact)
    return FirstMonthProration(
        start=start,
        days_used=days_used,
        days_in_month=end.day,
        ratio=ratio,
        amount_yen=amount,
        cancellation_month_prorated=rule.bool_param("cancellation_month_prorated"),
        rule=rule,
    )


@dataclass(frozen=True)
class MinimumPeriod:
    """R3: a cancellation applied inside the period is booked for period_end."""

    billing_start: date
    asked_on: date
    period_end: date
    inside_period: bool  # asked_on is on or before period_end
    earliest_effective_cancellation: date
    rule: RuleVersion


_PERIOD_MONTHS_AFTER_START = {"same_month_end": 0, "next_month_end": 1}


def minimum_period(billing_start: date, asked_on: date, book: RuleBook) -> MinimumPeriod:
    # The 2023-12-01 change applies to existing lines too, so the day asked decides.
    rule = book.in_force("R3", asked_on)
    months = _PERIOD_MONTHS_AFTER_START[rule.str_param("kind")]
    period_end = month_end(billing_start + relativedelta(months=months))
    return MinimumPeriod(
        billing_start=billing_start,
        asked_on=asked_on,
        period_end=period_end,
        inside_period=asked_on <= period_end,
        earliest_effective_cancellation=max(period_end, month_end(asked_on)),
        rule=rule,
    )


@dataclass(frozen=True)
class InitialCancellation:
    """R4: 初期契約解除 window, the day the contract notice arrives being day 1."""

    received_on: date
    today: date
    last_day: date
    days_left: int  # whole days after today still inside the window; 0 on (or after) the last
    still_possible: bool
    rule: RuleVersion


def initial_cancellation(received_on: date, today: date, book: RuleBook) -> InitialCancellation:
    rule = book.in_force("R4", today)
    last_day = received_on + timedelta(days=rule.int_param("days") - 1)
    return InitialCancellation(
        received_on=received_on,
        today=today,
        last_day=last_day,
        days_left=max(0, (last_day - today).days),
        still_possible=today <= last_day,
        rule=rule,
    )


@dataclass(frozen=True)
class Withdrawal:
    """R5: a cancellation reservation can be withdrawn until deadline (exclusive)."""

    scheduled_day: date
    at: datetime  # in JST
    deadline: datetime  # aware, JST
    possible: bool
    rule: RuleVersion


def withdrawal(scheduled_day: date, at: datetime, book: RuleBook) -> Withdrawal:
    local = to_jst(at)
    rule = book.in_force("R5", local.date())
    hour, minute = parse_hhmm(rule.str_param("deadline"))
    deadline = datetime.combine(scheduled_day, time(hour, minute), tzinfo=JST)
    return Withdrawal(
        scheduled_day=scheduled_day,
        at=local,
        deadline=deadline,
        possible=local < deadline,
        rule=rule,
    )


@dataclass(frozen=True)
class VoicePenalty:
    """R6: 音声通話機能解除調定金 on old plans when voice ends early."""

    applies: bool
    amount_yen: int  # 0 when it does not apply
    tax: str
    last_month_charged: date  # first day of the last month in which ending voice costs
    reason: str  # why: giga_plan / switched_to_data / initial_cancellation / within / after
    rule: RuleVersion


def voice_penalty(
    usage_start: date,
    voice_end: date,
    plan_is_old: bool,
    book: RuleBook,
    *,
    switched_to_data: bool = False,
    initial_cancellation: bool = False,
) -> VoicePenalty:
    if voice_end < usage_start:
        raise ValueError(f"voice ends ({voice_end}) before usage starts ({usage_start})")
    rule = book.in_force("R6", voice_end)
    # The usage-start month is month 1, so month N starts N-1 months later.
    last_month = month_start(usage_start) + relativedelta(months=rule.int_param("months") - 1)
    if not plan_is_old:
        reason = "giga_plan"
    elif switched_to_data:
        reason = "switched_to_data"
    elif initial_cancellation:
        reason = "initial_cancellation"
    elif voice_end <= month_end(last_month):
        reason = "within"
    else:
        reason = "after"
    applies = reason == "within"
    return VoicePenalty(
        applies=applies,
        amount_yen=rule.int_param("amount_yen") if applies else 0,
        tax=rule.str_param("tax"),
        last_month_charged=last_month,
        reason=reason,
        rule=rule,
    )


@dataclass(frozen=True)
class MnpOut:
    """R7: the line ends when the port completes; that month is billed in full."""

    fee_yen: int
    line_ends: str
    month_billed_in_full: bool
    rule: RuleVersion


def mnp_out(book: RuleBook, on: date | None = None) -> MnpOut:
    rule = book.in_force("R7", book.as_of if on is None else on)
    return MnpOut(
        fee_yen=rule.int_param("mnp_fee_yen"),
        line_ends=rule.str_param("line_ends"),
        month_billed_in_full=rule.bool_param("month_billed_in_full"),
        rule=rule,
    )


@dataclass(frozen=True)
class MnpNumber:
    """R8: an MNP予約番号 is valid through last_valid, the issue day being day 1."""

    issued_on: date
    last_valid: date
    days_left: int  # today included; 0 once it has expired
    valid: bool
    enough_left: bool  # as many days left as receiving carriers commonly want
    rule: RuleVersion


def mnp_number(issued_on: date, today: date, book: RuleBook) -> MnpNumber:
    rule = book.in_force("R8", today)
    last = issued_on + timedelta(days=rule.int_param("valid_days") - 1)
    left = max(0, (last - today).days + 1)
    return MnpNumber(
        issued_on=issued_on,
        last_valid=last,
        days_left=left,
        valid=today <= last,
        enough_left=left >= rule.int_param("accept_days_left"),
        rule=rule,
    )
