"""core/handoff.py: when people answer, how a handoff is carried out, and the gate that
keeps the bot silent meanwhile (the end-to-end cases are tests/integration/test_handoff.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.clock import JST
from core.handoff import Gate, HandoffPolicy, Route, SupportHours, carry_out, gate
from core.intent import Command, Intent, IntentKind
from core.reply import Choice, Reply
from core.session import Session

TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=JST)
HOURS = SupportHours.parse("weekdays 09:00-18:00")


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        (TUESDAY_10, True),
        (TUESDAY_10.replace(hour=9, minute=0), True),
        (TUESDAY_10.replace(hour=17, minute=59), True),
        (TUESDAY_10.replace(hour=18, minute=0), False),  # the end is exclusive
        (TUESDAY_10.replace(hour=8, minute=59), False),
        (datetime(2026, 11, 28, 10, 0, tzinfo=JST), False),  # Saturday
        # 01:00 UTC is 10:00 in Tokyo: the hours are JST whatever zone `now` comes in.
        (datetime(2026, 11, 24, 1, 0, tzinfo=UTC), True),
        (datetime(2026, 11, 24, 10, 0, tzinfo=UTC), False),  # 19:00 in Tokyo
    ],
)
def test_support_hours_are_weekdays_in_tokyo(when: datetime, open_: bool) -> None:
    assert HOURS.open_at(when) is open_


def test_daily_hours_include_the_weekend_and_read_back_in_japanese() -> None:
    daily = SupportHours.parse("daily 10:00-24:00")
    assert daily.open_at(datetime(2026, 11, 28, 23, 59, tzinfo=JST))
    assert daily.describe() == "毎日 10:00〜24:00"
    assert HOURS.describe() == "平日 9:00〜18:00"


@pytest.mark.parametrize("spec", ["", "weekdays", "weekends 09:00-18:00", "daily 25:00-26:00"])
def test_bad_hours_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        SupportHours.parse(spec)


def _asked(node: str = "fees") -> Reply:
    return Reply(
        node=node,
        texts=("前置き",),
        choices=(Choice("メニューへ", "nav:menu"),),
        handoff="asked",
    )


def test_a_live_handoff_marks_the_session_and_drops_the_buttons() -> None:
    policy = HandoffPolicy(hours=HOURS, desk_ready=True)
    s, reply, route = carry_out(policy, Session(node="fees"), _asked(), "line", TUESDAY_10)
    assert route is Route.LIVE and s.handoff_at == TUESDAY_10.timestamp()
    assert reply.choices == () and "このトークでお返事します" in reply.texts[-1]
    _, slack, _ = carry_out(policy, Session(node="fees"), _asked(), "slack", TUESDAY_10)
    assert "このDMでお返事します" in slack.texts[-1]


def test_closed_or_without_a_desk_the_bot_stays_on_with_the_contacts() -> None:
    evening = TUESDAY_10.replace(hour=20)
    closed = HandoffPolicy(hours=HOURS, desk_ready=True)
    s, reply, route = carry_out(closed, Session(node="fees"), _asked(), "line", evening)
    assert route is Route.CLOSED and not s.handoff_at
    assert "受付時間外" in reply.texts[-1] and reply.choices  # the buttons still work
    s, reply, route = carry_out(HandoffPolicy(), Session(node="fees"), _asked(), "line", evening)
    assert route is Route.CONTACTS and not s.handoff_at and "0570-09-4400" in reply.texts[-1]


def test_the_gate() -> None:
    policy = HandoffPolicy(ttl=600)
    on = Session(node="fees", handoff_at=TUESDAY_10.timestamp())
    text = Intent(IntentKind.UNKNOWN)
    back = Intent(IntentKind.COMMAND, Command.BOT.value)
    erase = Intent(IntentKind.COMMAND, Command.ERASE.value)
    assert gate(policy, Session(node="fees"), text, TUESDAY_10) is Gate.OPEN
    assert gate(policy, on, text, TUESDAY_10 + timedelta(seconds=599)) is Gate.SILENT
    assert gate(policy, on, back, TUESDAY_10) is Gate.RESUME
    assert gate(policy, on, erase, TUESDAY_10) is Gate.OPEN
    assert gate(policy, on, Intent(IntentKind.FORGET), TUESDAY_10) is Gate.OPEN
    assert gate(policy, on, text, TUESDAY_10 + timedelta(seconds=600)) is Gate.EXPIRED


def test_the_session_keeps_only_the_last_three_masked_messages_and_round_trips() -> None:
    s = Session(node="menu")
    for m in ("一", "二", "三", "四"):
        s = s.remembering(m)
    assert s.recent == ("二", "三", "四")
    again = Session.from_json(s.to_json())
    assert again.recent == s.recent
    # A session that never met a handoff is stored exactly as before issue 9.
    assert "handoff_at" not in Session(node="menu").to_json()
    assert "recent" not in Session(node="menu").to_json()
