"""「カレンダーに追加」: one deadline as an .ics file (one VEVENT with a VALARM), reachable at
a URL whose token is signed and expires, and names the deadline, never the customer.

Token: base64url("<kind>:<deadline>|<expires epoch s>") "." base64url(HMAC-SHA256), the
key being the operator's secret (IIJBOT_HASH_KEY), so a token cannot be forged or
extended, and a link shared by mistake tells nothing about who asked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from icalendar import Alarm, Calendar, Event

from core.clock import JST, to_jst
from core.remind.plan import END_OF_DAY, due_times, parse_token, token
from core.texts import say

PRODID = "-//iijmio-bot//reminders//JA"
LINK_VALID_AFTER_DEADLINE = timedelta(days=1)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, b"iijbot-calendar:" + payload, hashlib.sha256).digest()


def sign(kind: str, deadline: datetime, key: bytes) -> str:
    """The link's token: valid until a day after the deadline."""
    expires = int((to_jst(deadline) + LINK_VALID_AFTER_DEADLINE).timestamp())
    payload = f"{token(kind, deadline)}|{expires}".encode()
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def verify(signed: str, key: bytes, now: datetime) -> tuple[str, datetime] | None:
    """(kind, deadline) of a genuine, unexpired token; None otherwise."""
    body, dot, mac = signed.partition(".")
    if not dot:
        return None
    try:
        payload, given = _unb64(body), _unb64(mac)
    except ValueError:
        return None
    if not hmac.compare_digest(given, _mac(key, payload)):
        return None
    text, _, expires = payload.decode(errors="replace").rpartition("|")
    if not expires.isdigit() or now.timestamp() > int(expires):
        return None
    return parse_token(text)


def ics(kind: str, deadline: datetime, now: datetime, what: str, url: str) -> bytes:
    """One VEVENT at the deadline (all day when it runs to the day's end) with a VALARM
    at the first reminder time (or at the event when none is left)."""
    deadline = to_jst(deadline)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    event = Event()
    event.add("uid", f"{token(kind, deadline)}@iijmio-bot")
    event.add("dtstamp", now.astimezone(JST))
    event.add("summary", what)
    event.add("description", say("calendar_description", what=what, url=url))
    event.add("url", url)
    if deadline.time() == END_OF_DAY:
        event.add("dtstart", deadline.date())
        event.add("dtend", deadline.date() + timedelta(days=1))
    else:
        # In UTC: a TZID would need a VTIMEZONE some calendars do not ship.
        event.add("dtstart", (deadline - timedelta(hours=1)).astimezone(UTC))
        event.add("dtend", deadline.astimezone(UTC))
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", what)
    first = due_times(kind, deadline, now)
    if first:
        alarm.add("trigger", first[0].astimezone(UTC))  # RFC 5545: absolute is UTC
    else:
        alarm.add("trigger", timedelta(0))
    event.add_component(alarm)
    cal.add_component(event)
    return bytes(cal.to_ical())


class CalendarLinks:
    """Builds and reads the calendar links of one deployment."""

    def __init__(self, base_url: str, key: bytes) -> None:
        self._base = base_url.rstrip("/")
        self._key = key

    def url(self, kind: str, deadline: datetime) -> str:
        return f"{self._base}{PATH_PREFIX}{sign(kind, deadline, self._key)}.ics"

    def read(self, signed: str, now: datetime) -> tuple[str, datetime] | None:
        return verify(signed.removesuffix(".ics"), self._key, now)


PATH_PREFIX = "/calendar/"
