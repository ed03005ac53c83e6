"""When to remind: pure functions of a deadline, `now` and the data in
core/policy/reminders.yaml. No clock is read here.

A deadline travels as a token "<kind>:<YYYY-MM-DDTHH:MM>" (JST): on the card's
「リマインドする」 button and in the stored reminder, so the button needs no session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path

from core.clock import JST, to_jst
from core.yaml_data import load_yaml

SCHEDULE_PATH = Path(__file__).parent.parent / "policy" / "reminders.yaml"
END_OF_DAY = time(23, 59)


@dataclass(frozen=True)
class Slot:
    days_before: int
    at: time


@dataclass(frozen=True)
class KindPlan:
    kind: str
    topic: str  # the flow topic the reminder's button opens
    url: str  # the official page: what to do
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class Schedule:
    quiet_start: time
    quiet_end: time
    late_after: timedelta
    kinds: Mapping[str, KindPlan]


def _hhmm(value: object) -> time:
    hour, _, minute = str(value).partition(":")
    return time(int(hour), int(minute or 0))


def parse_schedule(data: Mapping[str, object]) -> Schedule:
    quiet = data["quiet_hours"]
    kinds_raw = data["kinds"]
    if not isinstance(quiet, dict) or not isinstance(kinds_raw, dict):
        raise ValueError("reminders.yaml: quiet_hours and kinds must be mappings")
    kinds: dict[str, KindPlan] = {}
    for name, spec in kinds_raw.items():
        slots = tuple(Slot(int(s["days_before"]), _hhmm(s["at"])) for s in spec.get("slots", ()))
        if not slots:
            raise ValueError(f"reminders.yaml: kind {name} has no slots")
        kinds[str(name)] = KindPlan(
            kind=str(name),
            topic=str(spec["topic"]),
            url=str(spec["url"]),
            slots=slots,
        )
    late = data.get("late_after_minutes", 10)
    return Schedule(
        quiet_start=_hhmm(quiet["start"]),
        quiet_end=_hhmm(quiet["end"]),
        late_after=timedelta(minutes=int(str(late))),
        kinds=kinds,
    )


@cache
def load_schedule(path: Path = SCHEDULE_PATH) -> Schedule:
    data = load_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a mapping")
    return parse_schedule(data)


def end_of_day(day: date) -> datetime:
    """A deadline "by the end of that day" (the customer can act until late evening)."""
    return datetime.combine(day, END_OF_DAY, tzinfo=JST)


def out_of_quiet_hours(at: datetime, schedule: Schedule) -> datetime:
    """Never between quiet_start and quiet_end: such a time moves to quiet_end (the next
    morning for a time late in the evening)."""
    local = to_jst(at)
    morning = datetime.combine(local.date(), schedule.quiet_end, tzinfo=JST)
    if local.time() < schedule.quiet_end:
        return morning
    if local.time() >= schedule.quiet_start:
        return morning + timedelta(days=1)
    return local


def due_times(
    kind: str, deadline: datetime, now: datetime, schedule: Schedule | None = None
) -> tuple[datetime, ...]:
    """The times to remind of `deadline`, earliest first: out of the quiet hours, before
    the deadline, after now. Empty for a deadline already past or an unknown kind."""
    schedule = schedule or load_schedule()
    plan = schedule.kinds.get(kind)
    deadline, now = to_jst(deadline), to_jst(now)
    if plan is None or deadline <= now:
        return ()
    out: set[datetime] = set()
    for slot in plan.slots:
        day = deadline.date() - timedelta(days=slot.days_before)
        at = out_of_quiet_hours(datetime.combine(day, slot.at, tzinfo=JST), schedule)
        if now < at < deadline:
            out.add(at)
    return tuple(sorted(out))


def token(kind: str, deadline: datetime) -> str:
    return f"{kind}:{to_jst(deadline):%Y-%m-%dT%H:%M}"


def parse_token(value: str) -> tuple[str, datetime] | None:
    kind, sep, when = value.partition(":")
    if not sep or not kind:
        return None
    try:
        at = datetime.strptime(when, "%Y-%m-%dT%H:%M").replace(tzinfo=JST)
    except ValueError:
        return None
    return kind, at
