"""The session-store seam. Redis in production, memory for the local chat.

Key layout (docs/design.md): iijbot:v1:{<platform>:<workspace>:<user>}:session and
…}:evt:<event id>; the braces are a Redis Cluster hash tag so one Lua script can
touch every key of one conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from core.events import TurnEvent
from core.inbound import ConversationKey
from core.session import Session

DEFAULT_SESSION_TTL = 24 * 3600
DEFAULT_EVENTS_RETENTION_DAYS = 90
# A ceiling on the stream whatever the retention says (XADD MAXLEN ~): a flood of turns
# must not fill Redis' memory. About 200 bytes an entry: 2M entries ≈ 400 MB at most.
DEFAULT_EVENTS_MAXLEN = 2_000_000
DAY_MS = 24 * 3600 * 1000
EVENT_TTL = 3600  # ≥ 15 min (docs/design.md); LINE/Slack redeliver within minutes
EXPIRED_MARKER_TTL = 30 * 24 * 3600  # how long we remember "there was a conversation"


class StoreUnavailable(RuntimeError):
    """The backing store cannot be reached; the turn must not be answered as if it worked."""


class CommitStatus(StrEnum):
    OK = "ok"
    CONFLICT = "conflict"  # someone committed in between: re-run the turn
    DUPLICATE = "duplicate"  # this event id was already committed: acknowledge, do nothing


@dataclass(frozen=True)
class Loaded:
    session: Session | None  # None: no live session
    version: int  # the version to pass to commit (0 when there is none)
    expired: bool  # no live session, but there was one recently (tell the user it timed out)
    duplicate: bool  # the event id was already committed


def decode_session(raw: object) -> Session | None:
    """A stored value as a Session. Unreadable data counts as no session (version 0), so
    one bad write can never wedge a conversation: the next commit replaces it."""
    if not isinstance(raw, bytes | str):
        return None
    try:
        return Session.from_json(raw)
    except (ValueError, KeyError, TypeError):
        return None


def loaded(raw: object, *, marker: bool, duplicate: bool) -> Loaded:
    """What load returns, from the raw session value and the two flags every store reads."""
    session = decode_session(raw)
    if session is None:
        return Loaded(session=None, version=0, expired=marker, duplicate=duplicate)
    return Loaded(session=session, version=session.version, expired=False, duplicate=duplicate)


class SessionStore(Protocol):
    async def load(self, key: ConversationKey, event_id: str | None = None) -> Loaded: ...

    async def commit(
        self,
        key: ConversationKey,
        session: Session | None,
        expected_version: int,
        event_id: str | None = None,
        event: TurnEvent | None = None,
    ) -> CommitStatus:
        """Atomically: if the event id was seen → DUPLICATE; if the stored version differs
        from expected_version → CONFLICT; else store session with version+1 (None deletes the
        session and its expiry marker: the user asked to forget), record the event id, refresh
        the TTL → OK. With OK, the turn's event is appended to the event stream in the same
        step (entries older than the retention trimmed), or, if that append fails, dropped
        and counted (iijbot_events_dropped_total): the turn still commits."""
        ...

    async def record(self, key: ConversationKey, event: TurnEvent) -> bool:
        """Append an event outside a turn (an operator's button). Best effort: False when
        it was dropped (counted), never raises for an unavailable store."""
        ...

    async def remember(self, key: ConversationKey, event_id: str) -> None:
        """Remember an event id as handled outside a turn (a reminder input answers
        without a commit): a redelivery of it then loads as duplicate. Best effort: a
        store that cannot be reached leaves it unremembered, never raises (a repeated
        reminder input is harmless, a lost answer is not)."""
        ...

    async def erase(self, key: ConversationKey, conv: str | None) -> None:
        """Forget a conversation: its session, expiry marker, reminders and, when conv (its
        conversation_hash) is given, every event recorded for it. Raises StoreUnavailable."""
        ...

    async def read_events(self, since_ms: int, until_ms: int | None = None) -> list[TurnEvent]:
        """Events recorded from since_ms (inclusive) to until_ms (exclusive), oldest first.
        Raises StoreUnavailable."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


def session_key(key: ConversationKey, prefix: str = "iijbot:v1") -> str:
    return f"{prefix}:{{{key.tag}}}:session"


def marker_key(key: ConversationKey, prefix: str = "iijbot:v1") -> str:
    return f"{prefix}:{{{key.tag}}}:seen"


def event_key(key: ConversationKey, event_id: str, prefix: str = "iijbot:v1") -> str:
    return f"{prefix}:{{{key.tag}}}:evt:{event_id}"


def reminders_key(key: ConversationKey, prefix: str = "iijbot:v1") -> str:
    """The conversation's reminders (core/remind/book.py), under its hash tag; erase()
    deletes it, so 「データを削除」 removes them with the session."""
    return f"{prefix}:{{{key.tag}}}:reminders"


# Every event key carries the hash tag {events}: on Redis Cluster the stream and the
# per-conversation indexes live in one slot, so one script can append and index.
def events_stream_key(prefix: str = "iijbot:v1") -> str:
    return f"{prefix}:{{events}}:stream"


def events_index_key(conv: str, prefix: str = "iijbot:v1") -> str:
    """The ids of one conversation's events (named by its hash, never the user id), so a
    deletion finds them without scanning the stream."""
    return f"{prefix}:{{events}}:idx:{conv}"
