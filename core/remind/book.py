"""Where reminders are kept: in Redis beside the sessions, or in memory for the local chat.

Redis layout (the conversation's hash tag keeps its keys in one Cluster slot):
  <prefix>:{<platform>:<workspace>:<user>}:reminders   hash  reminder id → JSON
  <prefix>:{reminders}:due                             zset  member → due time (ms)
  <prefix>:{reminders}:pushes:<YYYY-MM>                int   LINE pushes sent that month
The per-conversation hash is the truth (「データを削除」 deletes it: core/store erase);
the due index only says when to look. A reminder the platform keeps and sends itself (Slack's
chat.scheduleMessage) carries the platform's id for it in the hash, to cancel it by, and is
not in the due index: our worker never sends it. A claim moves a due member's score a lease ahead
in one script, so of any number of workers exactly one gets it; the member is removed
once sent, or it comes due again when the lease ends (a worker that died mid-send).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.clock import to_jst
from core.inbound import ConversationKey
from core.store.base import reminders_key
from core.store.redis import _store_trouble, _unavailable

DEFAULT_LEASE = timedelta(minutes=5)
KEEP_AFTER_DEADLINE = timedelta(days=1)
_SEP = "\n"  # never inside a platform, workspace or user id


@dataclass(frozen=True)
class Reminder:
    kind: str
    deadline: datetime  # JST
    due: datetime  # JST
    # The platform's handle for the message it keeps and sends at `due` (hosted/scheduled
    # by the platform, see core/remind/hosted.py); None: our worker sends it.
    hosted: str | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.deadline:%Y%m%d%H%M}-{self.due:%Y%m%d%H%M}"

    def to_json(self) -> str:
        doc = {
            "kind": self.kind,
            "deadline": self.deadline.isoformat(),
            "due": self.due.isoformat(),
        }
        if self.hosted is not None:
            doc["hosted"] = self.hosted
        return json.dumps(doc)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Reminder:
        doc = json.loads(raw)
        hosted = doc.get("hosted")  # absent in reminders stored before platforms kept them
        return cls(
            kind=str(doc["kind"]),
            deadline=to_jst(datetime.fromisoformat(doc["deadline"])),
            due=to_jst(datetime.fromisoformat(doc["due"])),
            hosted=str(hosted) if hosted else None,
        )


@dataclass(frozen=True)
class Claimed:
    key: ConversationKey
    reminder: Reminder


def _ms(at: datetime) -> int:
    return int(to_jst(at).timestamp() * 1000)


def _member(key: ConversationKey, reminder_id: str) -> str:
    return _SEP.join((key.platform, key.workspace, key.user, reminder_id))


def _unmember(member: str) -> tuple[ConversationKey, str] | None:
    parts = member.split(_SEP)
    if len(parts) != 4:
        return None
    return ConversationKey(parts[0], parts[1], parts[2]), parts[3]


class ReminderBook(Protocol):
    async def add(
        self, key: ConversationKey, reminders: list[Reminder], now: datetime
    ) -> list[Reminder]:
        """Keep the reminders whose id the conversation has not got yet; the ones kept.
        One already there stays as it is: two taps racing store one reminder, and the
        loser knows to cancel the platform's copy it scheduled meanwhile."""
        ...

    async def listed(self, key: ConversationKey) -> list[Reminder]:
        """The conversation's reminders, earliest first."""
        ...

    async def remove(self, key: ConversationKey, reminder_ids: list[str]) -> int: ...

    async def remove_all(self, key: ConversationKey) -> int: ...

    async def claim(
        self, now: datetime, limit: int = 50, lease: timedelta = DEFAULT_LEASE
    ) -> list[Claimed]:
        """Reminders due at now, each handed to one caller only until the lease ends."""
        ...

    async def done(self, key: ConversationKey, reminder_id: str) -> None: ...

    async def postpone(self, key: ConversationKey, reminder_id: str, at: datetime) -> None:
        """A claimed reminder comes due again at `at` (not sent now: the quiet hours)."""
        ...

    async def pushes(self, month: str) -> int: ...

    async def count_push(self, month: str) -> None: ...


def _sorted(items: list[Reminder]) -> list[Reminder]:
    return sorted(items, key=lambda r: (r.due, r.kind))


class MemoryReminderBook:
    """The local chat's book (and the tests' reference): one process, no delivery."""

    def __init__(self) -> None:
        self._items: dict[ConversationKey, dict[str, Reminder]] = {}
        self._due: dict[tuple[ConversationKey, str], datetime] = {}
        self._pushes: dict[str, int] = {}

    async def add(
        self, key: ConversationKey, reminders: list[Reminder], now: datetime
    ) -> list[Reminder]:
        mine = self._items.setdefault(key, {})
        kept: list[Reminder] = []
        for r in reminders:
            if r.id in mine:
                continue
            mine[r.id] = r
            kept.append(r)
            if r.hosted is None:
                self._due[(key, r.id)] = r.due
        return kept

    async def listed(self, key: ConversationKey) -> list[Reminder]:
        return _sorted(list(self._items.get(key, {}).values()))

    async def remove(self, key: ConversationKey, reminder_ids: list[str]) -> int:
        mine = self._items.get(key, {})
        gone = 0
        for rid in reminder_ids:
            self._due.pop((key, rid), None)
            gone += mine.pop(rid, None) is not None
        return gone

    async def remove_all(self, key: ConversationKey) -> int:
        return await self.remove(key, list(self._items.get(key, {})))

    async def claim(
        self, now: datetime, limit: int = 50, lease: timedelta = DEFAULT_LEASE
    ) -> list[Claimed]:
        out: list[Claimed] = []
        for (key, rid), at in sorted(self._due.items(), key=lambda kv: kv[1]):
            if at > now or len(out) >= limit:
                break
            self._due[(key, rid)] = now + lease
            found = self._items.get(key, {}).get(rid)
            if found is not None:
                out.append(Claimed(key, found))
        return out

    async def done(self, key: ConversationKey, reminder_id: str) -> None:
        await self.remove(key, [reminder_id])

    async def postpone(self, key: ConversationKey, reminder_id: str, at: datetime) -> None:
        if (key, reminder_id) in self._due:
            self._due[(key, reminder_id)] = at

    async def pushes(self, month: str) -> int:
        return self._pushes.get(month, 0)

    async def count_push(self, month: str) -> None:
        self._pushes[month] = self._pushes.get(month, 0) + 1


# KEYS: due index. ARGV: now ms, lease end ms, limit. The due members, re-scored to the
# lease end in the same step, so no other worker can claim them meanwhile.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], m) end
return due
"""

PUSH_COUNTER_TTL = 40 * 24 * 3600  # a month's counter outlives the month, then goes


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@contextlib.contextmanager
def _guard() -> Iterator[None]:
    """A Redis that is not there (or full) reads as StoreUnavailable, as for the session
    store."""
    try:
        yield
    except Exception as exc:
        if not _store_trouble(exc):
            raise
        raise _unavailable(exc) from None


class RedisReminderBook:
    def __init__(self, client: Any, prefix: str = "iijbot:v1") -> None:
        self._client = client
        self._prefix = prefix
        self._claim = client.register_script(_CLAIM)

    @property
    def _due_key(self) -> str:
        return f"{self._prefix}:{{reminders}}:due"

    def _hash(self, key: ConversationKey) -> str:
        return reminders_key(key, self._prefix)

    async def add(
        self, key: ConversationKey, reminders: list[Reminder], now: datetime
    ) -> list[Reminder]:
        with _guard():
            if not reminders:
                return []
            # HSETNX one by one (the hash and the due index are in different Cluster
            # slots, so no one script can do both): what it set is what this call kept.
            kept: list[Reminder] = []
            for r in reminders:
                if await self._client.hsetnx(self._hash(key), r.id, r.to_json()):
                    kept.append(r)
            ours = {_member(key, r.id): _ms(r.due) for r in kept if r.hosted is None}
            if ours:
                await self._client.zadd(self._due_key, ours)
            # Every key of ours expires (Redis runs with noeviction): the conversation's
            # reminders a day after the last deadline they serve.
            # Relative to the caller's clock, as every time here is.
            last = max(r.deadline for r in await self.listed(key))
            ttl = int((last + KEEP_AFTER_DEADLINE - now).total_seconds())
            await self._client.expire(self._hash(key), max(ttl, 1))
            return kept

    async def listed(self, key: ConversationKey) -> list[Reminder]:
        with _guard():
            raw = await self._client.hgetall(self._hash(key))
            out: list[Reminder] = []
            for value in (raw or {}).values():
                try:
                    out.append(Reminder.from_json(value))
                except (ValueError, KeyError, TypeError):
                    continue  # unreadable: never shown, and removed with the rest
            return _sorted(out)

    async def remove(self, key: ConversationKey, reminder_ids: list[str]) -> int:
        with _guard():
            if not reminder_ids:
                return 0
            gone = int(await self._client.hdel(self._hash(key), *reminder_ids))
            await self._client.zrem(self._due_key, *(_member(key, r) for r in reminder_ids))
            return gone

    async def remove_all(self, key: ConversationKey) -> int:
        with _guard():
            ids = [_text(k) for k in await self._client.hkeys(self._hash(key))]
            gone = await self.remove(key, ids)
            await self._client.delete(self._hash(key))
            return gone

    async def claim(
        self, now: datetime, limit: int = 50, lease: timedelta = DEFAULT_LEASE
    ) -> list[Claimed]:
        with _guard():
            members = await self._claim(
                keys=[self._due_key], args=[_ms(now), _ms(now + lease), limit]
            )
            out: list[Claimed] = []
            for m in members or []:
                member = _text(m)
                parsed = _unmember(member)
                raw = None
                if parsed is not None:
                    raw = await self._client.hget(self._hash(parsed[0]), parsed[1])
                if parsed is None or raw is None:
                    # Cancelled or erased since: the index entry alone is left; drop it.
                    await self._client.zrem(self._due_key, member)
                    continue
                try:
                    out.append(Claimed(parsed[0], Reminder.from_json(raw)))
                except (ValueError, KeyError, TypeError):
                    await self.remove(parsed[0], [parsed[1]])
            return out

    async def done(self, key: ConversationKey, reminder_id: str) -> None:
        with _guard():
            await self.remove(key, [reminder_id])

    async def postpone(self, key: ConversationKey, reminder_id: str, at: datetime) -> None:
        with _guard():
            # XX: a reminder cancelled meanwhile stays gone.
            await self._client.zadd(self._due_key, {_member(key, reminder_id): _ms(at)}, xx=True)

    def _pushes_key(self, month: str) -> str:
        return f"{self._prefix}:{{reminders}}:pushes:{month}"

    async def pushes(self, month: str) -> int:
        with _guard():
            raw = await self._client.get(self._pushes_key(month))
            return int(_text(raw)) if raw is not None else 0

    async def count_push(self, month: str) -> None:
        with _guard():
            k = self._pushes_key(month)
            await self._client.incr(k)
            await self._client.expire(k, PUSH_COUNTER_TTL)
