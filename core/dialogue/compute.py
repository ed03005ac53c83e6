"""Named computations that fill answer templates from the user's answers.

Each declares the template variables it produces and the rules it relies on, so
the validator can prove every `{variable}` in flow.yaml is filled and every
rule-based card can name its source. Computations are pure: `now` comes in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.clock import JST
from core.policy import RuleBook, format_date_ja, format_datetime_ja, format_month_ja
from core.policy.calculators import (
    cancellation_effective,
    first_month_proration,
    initial_cancellation,
    minimum_period,
    mnp_number,
    mnp_out,
    voice_penalty,
    withdrawal,
)
from core.policy.calendar import month_end
from core.policy.rules import RuleVersion
from core.remind.plan import end_of_day, token
from core.texts import say


@dataclass(frozen=True)
class Context:
    answers: Mapping[str, str]
    now: datetime
    rules: RuleBook
    # The rule versions the calculators actually used: a card cites these, not whatever
    # version is in force today (R2 and R6 pick theirs by the user's own dates).
    cited: list[RuleVersion] = field(default_factory=list)

    def cite(self, version: RuleVersion) -> None:
        self.cited.append(version)

    @property
    def today(self) -> date:
        return self.now.astimezone(JST).date()

    def day(self, slot: str) -> date:
        return date.fromisoformat(self.answers[slot])

    def get(self, slot: str, default: str = "") -> str:
        return self.answers.get(slot, default)


ComputeFn = Callable[[Context], Mapping[str, str]]


@dataclass(frozen=True)
class Computation:
    name: str
    outputs: frozenset[str]
    rules: tuple[str, ...]
    needs: tuple[str, ...]  # slots that must be answered before it can run
    fn: ComputeFn

    def run(self, ctx: Context) -> dict[str, str]:
        values = dict(self.fn(ctx))
        missing = self.outputs - values.keys()
        if missing:  # a bug in the computation, not in the user's input
            raise KeyError(f"compute {self.name} did not produce {sorted(missing)}")
        return values


REGISTRY: dict[str, Computation] = {}


def computation(
    name: str, outputs: tuple[str, ...], rules: tuple[str, ...] = (), needs: tuple[str, ...] = ()
) -> Callable[[ComputeFn], ComputeFn]:
    def register(fn: ComputeFn) -> ComputeFn:
        REGISTRY[name] = Computation(name, frozenset(outputs), rules, needs, fn)
        return fn

    return register


# ---- the computations the flow names ---------------------------------------------------


def _yen(amount: int) -> str:
    return say("yen", amount=f"{amount:,}")


# Each card with a deadline names it in `remind` (core/remind/plan.py token; "" for none):
# the engine offers 「リマインドする」 for it while a time to remind at is left.


@computation("cancel_today", ("applied", "effective", "remind"), rules=("R1",))
def _cancel_today(ctx: Context) -> Mapping[str, str]:
    r = cancellation_effective(ctx.today, ctx.rules)
    ctx.cite(r.rule)
    return {
        "applied": format_date_ja(r.applied_on),
        "effective": format_date_ja(r.effective_on),
        # Applied for by the month's last day, the cancellation takes effect this month.
        "remind": token("this_month", end_of_day(month_end(ctx.today))),
    }


@computation("mnp_out", ("fee", "line_ends", "billing"), rules=("R7",))
def _mnp_out(ctx: Context) -> Mapping[str, str]:
    r = mnp_out(ctx.rules, ctx.today)
    ctx.cite(r.rule)
    billing = say("mnp_month_billed_in_full") if r.month_billed_in_full else ""
    return {"fee": _yen(r.fee_yen), "line_ends": r.line_ends, "billing": billing}


@computation(
    "min_period",
    ("start", "period_end", "earliest", "inside", "rule_text", "remind"),
    rules=("R3",),
    needs=("start_date",),
)
def _min_period(ctx: Context) -> Mapping[str, str]:
    r = minimum_period(ctx.day("start_date"), ctx.today, ctx.rules)
    ctx.cite(r.rule)
    kind = r.rule.str_param("kind")
    inside = (
        say("min_period_inside", period_end=format_date_ja(r.period_end))
        if r.inside_period
        else say("min_period_over")
    )
    return {
        "start": format_date_ja(r.billing_start),
        "period_end": format_date_ja(r.period_end),
        "earliest": format_date_ja(r.earliest_effective_cancellation),
        "inside": inside,
        "rule_text": say(
            "min_period_same_month_end" if kind == "same_month_end" else "min_period_next_month_end"
        ),
        # The first day after the period: from then on nothing restricts a cancellation.
        "remind": (
            token("min_period", end_of_day(r.period_end + timedelta(days=1)))
            if r.inside_period
            else ""
        ),
    }


@computation(
    "initial",
    ("received", "last_day", "status", "possible", "remind"),
    rules=("R4",),
    needs=("received_date",),
)
def _initial(ctx: Context) -> Mapping[str, str]:
    r = initial_cancellation(ctx.day("received_date"), ctx.today, ctx.rules)
    ctx.cite(r.rule)
    if not r.still_possible:
        status = say("initial_too_late")
    elif r.days_left == 0:
        status = say("initial_last_day")
    else:
        status = say("initial_days_left", days=str(r.days_left))
    return {
        "received": format_date_ja(r.received_on),
        "last_day": format_date_ja(r.last_day),
        "status": status,
        "possible": "yes" if r.still_possible else "no",
        "remind": token("initial", end_of_day(r.last_day)) if r.still_possible else "",
    }


@computation(
    "withdraw",
    ("scheduled", "deadline", "status", "checked_at", "possible", "adjusted", "remind"),
    rules=("R5", "R1"),
    needs=("cancel_day",),
)
def _withdraw(ctx: Context) -> Mapping[str, str]:
    # Customers often give the day they applied, not the scheduled day; a cancellation
    # always takes effect at the end of that month (R1), so that is the day that counts.
    given = ctx.day("cancel_day")
    effective = cancellation_effective(given, ctx.rules)
    ctx.cite(effective.rule)
    r = withdrawal(effective.effective_on, ctx.now, ctx.rules)
    ctx.cite(r.rule)
    adjusted = ""
    if effective.effective_on != given:
        adjusted = say(
            "withdraw_adjusted",
            given=format_date_ja(given),
            effective=format_date_ja(effective.effective_on),
        )
    status = say("withdraw_possible" if r.possible else "withdraw_too_late")
    return {
        "scheduled": format_date_ja(r.scheduled_day),
        "deadline": format_datetime_ja(r.deadline),
        "status": status,
        "checked_at": format_datetime_ja(r.at),
        "possible": "yes" if r.possible else "no",
        "adjusted": adjusted,
        "remind": token("withdraw", r.deadline) if r.possible else "",
    }


@computation(
    "voice_penalty",
    ("start", "end", "result", "last_month", "remind"),
    rules=("R6",),
    needs=("start_date", "voice_end"),
)
def _voice_penalty(ctx: Context) -> Mapping[str, str]:
    start, end = ctx.day("start_date"), ctx.day("voice_end")
    if end < start:
        return {
            "start": format_date_ja(start),
            "end": format_date_ja(end),
            "result": say("voice_end_before_start"),
            "last_month": "",
            "remind": "",
        }
    r = voice_penalty(start, end, True, ctx.rules)
    ctx.cite(r.rule)
    result = (
        say("voice_penalty_applies", amount=_yen(r.amount_yen), tax=r.tax)
        if r.applies
        else say("voice_penalty_none")
    )
    return {
        "start": format_date_ja(start),
        "end": format_date_ja(end),
        "result": result,
        "last_month": say("voice_last_month", month=format_month_ja(r.last_month_charged)),
        # The first day ending voice costs nothing: the day after the last charged month.
        "remind": (
            token("voice", end_of_day(month_end(r.last_month_charged) + timedelta(days=1)))
            if r.applies
            else ""
        ),
    }


@computation(
    "proration",
    ("start", "days", "amount", "cancel_month"),
    rules=("R2",),
    needs=("start_date",),
)
def _proration(ctx: Context) -> Mapping[str, str]:
    fee_raw = ctx.get("monthly_fee")
    fee = int(fee_raw) if fee_raw.isdigit() else None
    r = first_month_proration(ctx.day("start_date"), fee, ctx.rules)
    ctx.cite(r.rule)
    amount = ""
    if r.amount_yen is not None and fee is not None:
        amount = say("proration_amount", amount=_yen(r.amount_yen), fee=_yen(fee))
    return {
        "start": format_date_ja(r.start),
        "days": say("proration_days", used=str(r.days_used), in_month=str(r.days_in_month)),
        "amount": amount,
        "cancel_month": "" if r.cancellation_month_prorated else say("proration_cancel_month"),
    }


@computation(
    "mnp_number",
    ("issued", "last_valid", "valid_days", "status", "remind"),
    rules=("R8",),
    needs=("mnp_issued_date",),
)
def _mnp_number(ctx: Context) -> Mapping[str, str]:
    r = mnp_number(ctx.day("mnp_issued_date"), ctx.today, ctx.rules)
    ctx.cite(r.rule)
    accept = str(r.rule.int_param("accept_days_left"))
    if not r.valid:
        status = say("mnp_number_expired")
    elif r.enough_left:
        status = say("mnp_number_ok", days=str(r.days_left))
    else:
        status = say("mnp_number_short", days=str(r.days_left), accept=accept)
    return {
        "issued": format_date_ja(r.issued_on),
        "last_valid": format_date_ja(r.last_valid),
        "valid_days": str(r.rule.int_param("valid_days")),
        "status": status,
        "remind": token("mnp", end_of_day(r.last_valid)) if r.valid else "",
    }
