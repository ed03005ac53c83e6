"""Which conversation a handoff card stands for (core.handoff.HandoffIndex).

The card in the support channel shows only the conversation's keyed hash; its
「ボットに戻す」 button carries that hash, and this index turns it back into the
conversation, so the platform user id never leaves our Redis. An entry lives as long as
the handoff may (IIJBOT_HANDOFF_TTL): a card older than that has nothing to hand back.
"""

from __future__ import annotations

import time

from core.inbound import ConversationKey
from core.store.base import SessionStore
from core.store.redis import AnyRedis, RedisSessionStore, _store_trouble, _unavailable


def index_key(ref: str, prefix: str = "iijbot:v1") -> str:
    return f"{prefix}:handoff:{ref}"


# The entry: the conversation's tag, a tab, the card's thread ("" until it is posted).
_SEP = "\t"


def _entry(key: ConversationKey, thread: str) -> str:
    return f"{key.tag}{_SEP}{thread}"


def _parts(raw: object) -> tuple[ConversationKey | None, str]:
    if raw is None:
        return None, ""
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    tag, _, thread = text.partition(_SEP)
    return key_of(tag), thread


def key_of(tag: str) -> ConversationKey | None:
    platform, _, rest = tag.partition(":")
    workspace, _, user = rest.partition(":")
    if not platform or not workspace or not user:
        return None
    return ConversationKey(platform, workspace, user)


class RedisHandoffIndex:
    def __init__(self, client: AnyRedis, prefix: str = "iijbot:v1") -> None:
        self._client = client
        self._prefix = prefix

    async def remember(self, ref: str, key: ConversationKey, ttl: int, thread: str = "") -> None:
        try:
            entry = _entry(key, thread)
            await self._client.set(index_key(ref, self._prefix), entry, ex=max(ttl, 1))
        except Exception as exc:
            if not _store_trouble(exc):
                raise
            raise _unavailable(exc) from None

    async def _get(self, ref: str) -> tuple[ConversationKey | None, str]:
        try:
            return _parts(await self._client.get(index_key(ref, self._prefix)))
        except Exception as exc:
            if not _store_trouble(exc):
                raise
            raise _unavailable(exc) from None

    async def lookup(self, ref: str) -> ConversationKey | None:
        return (await self._get(ref))[0]

    async def thread(self, ref: str) -> str | None:
        return (await self._get(ref))[1] or None

    async def forget(self, ref: str) -> None:
        try:
            await self._client.delete(index_key(ref, self._prefix))
        except Exception as exc:
            if not _store_trouble(exc):
                raise
            raise _unavailable(exc) from None


class MemoryHandoffIndex:
    """The local chat's: one process, expiry read from the monotonic clock."""

    def __init__(self) -> None:
        self._table: dict[str, tuple[str, float]] = {}

    async def remember(self, ref: str, key: ConversationKey, ttl: int, thread: str = "") -> None:
        self._table[ref] = (_entry(key, thread), time.monotonic() + ttl)

    def _get(self, ref: str) -> tuple[ConversationKey | None, str]:
        entry = self._table.get(ref)
        if entry is None or entry[1] <= time.monotonic():
            return None, ""
        return _parts(entry[0])

    async def lookup(self, ref: str) -> ConversationKey | None:
        return self._get(ref)[0]

    async def thread(self, ref: str) -> str | None:
        return self._get(ref)[1] or None

    async def forget(self, ref: str) -> None:
        self._table.pop(ref, None)


def index_for(store: SessionStore) -> RedisHandoffIndex | MemoryHandoffIndex:
    """The index beside a session store: in the same Redis, or in memory with it."""
    if isinstance(store, RedisSessionStore):
        return RedisHandoffIndex(store.client, store.prefix)
    return MemoryHandoffIndex()
