"""「カレンダーに追加」: the signed link and the .ics, parsed back with icalendar (issue 10)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar

from core.clock import JST
from core.remind.calendar import CalendarLinks, ics, sign, verify
from core.remind.plan import end_of_day

KEY = b"k" * 32
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=JST)
LAST_DAY = end_of_day(date(2026, 11, 27))


def test_a_signed_link_names_the_deadline_only_and_expires() -> None:
    links = CalendarLinks("https://bot.example.com/", KEY)
    url = links.url("initial", LAST_DAY)
    assert url.startswith("https://bot.example.com/calendar/") and url.endswith(".ics")
    signed = url.rsplit("/", 1)[1]
    assert links.read(signed, NOW) == ("initial", LAST_DAY)
    # Valid a day past the deadline, not after.
    assert links.read(signed, LAST_DAY + timedelta(hours=23)) is not None
    assert links.read(signed, LAST_DAY + timedelta(days=1, minutes=1)) is None


def test_a_forged_or_foreign_token_is_refused() -> None:
    signed = sign("initial", LAST_DAY, KEY)
    assert verify(signed, b"x" * 32, NOW) is None  # another deployment's key
    body, mac = signed.split(".")
    assert verify(body[:-2] + "AA." + mac, KEY, NOW) is None  # payload changed
    assert verify("garbage", KEY, NOW) is None
    assert verify("a.b.c", KEY, NOW) is None


def test_all_day_deadline_with_an_alarm_at_the_first_reminder() -> None:
    cal = Calendar.from_ical(ics("initial", LAST_DAY, NOW, "初期契約解除の最終日", "https://x"))
    (event,) = cal.walk("VEVENT")
    assert str(event["SUMMARY"]) == "初期契約解除の最終日"
    assert event.decoded("DTSTART") == date(2026, 11, 27)
    (alarm,) = event.walk("VALARM")
    assert alarm.decoded("TRIGGER") == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 9:00 JST


def test_timed_deadline_ends_at_it() -> None:
    deadline = datetime(2026, 11, 30, 20, 0, tzinfo=JST)
    cal = Calendar.from_ical(ics("withdraw", deadline, NOW, "解約予約の取り消し期限", "https://x"))
    (event,) = cal.walk("VEVENT")
    assert event.decoded("DTEND") == deadline
    (alarm,) = event.walk("VALARM")
    assert alarm.decoded("TRIGGER") == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 17:00 JST
