"""The session-store seam. Redis in production, memory for the local chat.

Key layout (docs/design.md): iijbot:v1:{<platform>:<workspace>:<user>}:session and
…}:evt:<event id>; the braces are a Redis Cluster hash tag so one Lua script can
touch every key of one conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from core.inbound import ConversationKey
from core.session import Session

DEFAULT_SESSION_TTL = 24 * 3600
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
    ) -> CommitStatus:
        """Atomically: if the event id was seen → DUPLICATE; if the stored version differs
        from expected_version → CONFLICT; else store session with version+1 (None deletes the
        session and its expiry marker: the user asked to forget), record the event id, refresh
        the TTL → OK."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


def session_key(key: ConversationKey, prefix: str = "iijbot:v1") -> str:
    return f"{prefix}:{{{key.tag}}}:session"


def marker_key(key: ConversationKey, prefix: str = "iijbot:v1") -> str:
    return f"{prefix}:{{{key.tag}}}:seen"


def event_key(key: ConversationKey, event_id: str, prefix: str = "iijbot:v1") -> str:
    return f"{prefix}:{{{key.tag}}}:evt:{event_id}"
