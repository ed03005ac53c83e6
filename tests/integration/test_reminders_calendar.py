"""The server hands out a reminder's .ics at its signed link, and the confirmation of a
reminder carries that link (issue 10)."""

from __future__ import annotations

from datetime import date, datetime

import httpx
from icalendar import Calendar

from bots.server import create_app
from bots.settings import Settings
from core.clock import JST, FixedClock
from core.dialogue import default_dialogue
from core.inbound import ConversationKey, Inbound, InboundKind
from core.remind.book import MemoryReminderBook
from core.remind.calendar import CalendarLinks
from core.remind.plan import end_of_day
from core.remind.service import Reminders
from core.store import MemorySessionStore
from core.turn import TurnRunner
from tests.integration.line_stub import serve

SECRET = "s" * 32
PUBLIC = "https://bot.example.com"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=JST)


async def remind_with_calendar(key: ConversationKey) -> tuple[str, ...]:
    """The confirmation of 「リマインドする」 for 初期契約解除 on a bot with calendar links."""
    runner = TurnRunner(
        MemorySessionStore(),
        default_dialogue(),
        FixedClock(NOW),
        reminders=Reminders(MemoryReminderBook(), calendar=CalendarLinks(PUBLIC, SECRET.encode())),
    )
    out = await runner.run(
        Inbound(key, InboundKind.CHOICE, choice_value="remind:initial:2026-11-27T23:59")
    )
    assert out.reply is not None
    return out.reply.texts


async def test_the_confirmation_links_a_calendar_file() -> None:
    link = (await remind_with_calendar(ConversationKey("line", "-", "Ucal")))[-1]
    assert link.startswith(f"カレンダーに追加: {PUBLIC}/calendar/") and "Ucal" not in link


async def test_the_server_serves_a_signed_link_and_refuses_others(redis_url: str) -> None:
    settings = Settings(
        redis_url=redis_url, hash_key=SECRET, public_url=PUBLIC, reminder_worker=False
    )
    url = CalendarLinks(PUBLIC, SECRET.encode()).url("initial", end_of_day(date(2026, 11, 27)))
    path = url.removeprefix(PUBLIC)
    app = create_app(settings, clock=FixedClock(NOW))
    async with serve(app) as base, httpx.AsyncClient() as http:
        ok = await http.get(base + path)
        assert ok.status_code == 200
        assert ok.headers["content-type"].startswith("text/calendar")
        (event,) = Calendar.from_ical(ok.content).walk("VEVENT")
        assert event.decoded("DTSTART") == date(2026, 11, 27)
        forged = await http.get(base + path.replace(".ics", "x.ics"))
        assert forged.status_code == 404
        other = CalendarLinks(PUBLIC, b"o" * 32).url("initial", end_of_day(date(2026, 11, 27)))
        assert (await http.get(base + other.removeprefix(PUBLIC))).status_code == 404


async def test_where_the_bot_cannot_send_the_confirmation_points_to_the_calendar() -> None:
    # The web page (like the terminal chat) has no way to reach the customer later: the
    # calendar file is their reminder, and the confirmation says so instead of promising.
    confirm, cannot, link = await remind_with_calendar(ConversationKey("web", "site", "s1"))
    assert "お知らせします" in confirm
    assert "送れません" in cannot and "カレンダー" in cannot
    assert link.startswith(f"カレンダーに追加: {PUBLIC}/calendar/")
