"""The Redis session store: one round trip to load, one Lua compare-and-swap to commit.

Both scripts name every key they touch in KEYS, and all of one conversation's keys share the
hash tag {<platform>:<workspace>:<user>}, so the same code runs on a single Redis, behind
Sentinel and on Redis Cluster.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from typing import Any, TypeAlias

import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from core.inbound import ConversationKey
from core.session import Session
from core.store.base import (
    DEFAULT_SESSION_TTL,
    EVENT_TTL,
    EXPIRED_MARKER_TTL,
    CommitStatus,
    Loaded,
    StoreUnavailable,
    event_key,
    loaded,
    marker_key,
    session_key,
)

AnyRedis: TypeAlias = "aioredis.Redis | RedisCluster"

# A dead Redis must fail a turn in about a second, not hang the webhook until the platform
# gives up; one quick retry on a fresh connection covers a server that restarted since the
# pooled connection was opened.
CONNECT_TIMEOUT = 1.0
SOCKET_TIMEOUT = 2.0
HEALTH_CHECK_INTERVAL = 30


def client_options() -> dict[str, Any]:
    """Connection settings every client we build gets (single, Sentinel master, Cluster)."""
    return {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": SOCKET_TIMEOUT,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.02, cap=0.1), retries=1),
        "retry_on_error": [rexc.ConnectionError, rexc.TimeoutError, ConnectionResetError],
    }


# KEYS: session, marker[, event]. Returns {session json or false, marker exists, event exists}.
_LOAD = """
local s = redis.call('GET', KEYS[1])
local m = redis.call('EXISTS', KEYS[2])
local e = 0
if KEYS[3] then e = redis.call('EXISTS', KEYS[3]) end
return {s, m, e}
"""

# KEYS: session, marker[, event]. ARGV: expected version, new JSON ('' = forget), session TTL,
# marker TTL, event TTL, commit token.
# The event key holds a per-commit token: if the client retries a commit whose reply was lost
# on the wire, the script recognises its own write and answers ok instead of duplicate.
# Python has already written version = expected + 1 into the JSON; only the stored version
# is decoded here. An undecodable stored value counts as version 0 (see base.decode_session).
_COMMIT = """
if KEYS[3] then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    if seen == ARGV[6] then return 'ok' end
    return 'duplicate'
  end
end
local cur = redis.call('GET', KEYS[1])
local v = 0
if cur then
  local ok, doc = pcall(cjson.decode, cur)
  if ok and type(doc) == 'table' then v = tonumber(doc['version']) or 0 end
end
if v ~= tonumber(ARGV[1]) then return 'conflict' end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1], KEYS[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
end
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[5]) end
return 'ok'
"""

# Errors that mean "the store is not there right now", as opposed to a bug in our own calls.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    rexc.ConnectionError,  # includes BusyLoadingError, MaxConnectionsError, auth failures
    rexc.TimeoutError,
    rexc.ClusterError,  # includes ClusterDownError, MasterDownError
    rexc.RedisClusterException,
    rexc.ReadOnlyError,  # a failover is in progress: we still talk to the old master
    rexc.TryAgainError,
    OSError,
    TimeoutError,
)


def _store_trouble(exc: Exception) -> bool:
    """Whether exc means the store is not there right now. Two more ways redis-py reports
    a connection torn down under it, both seen when a Cluster master dies mid-traffic:
    under uvloop, writing to a closed connection raises RuntimeError ("... the handler is
    closed") where asyncio's own loop raises OSError; and a cluster connection reset by a
    concurrent command is left without a writer (AttributeError on None.writelines)."""
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, RuntimeError):
        return "handler is closed" in str(exc)
    return isinstance(exc, AttributeError) and "'NoneType'" in str(exc)


_USERINFO = re.compile(r"(?<=://)[^@/\s]*@")


def redact(text: str) -> str:
    """Drop user:password@ from any URL in text."""
    return _USERINFO.sub("***@", text)


def _unavailable(exc: BaseException) -> StoreUnavailable:
    detail = redact(str(exc)).strip()
    name = type(exc).__name__
    return StoreUnavailable(f"session store unavailable ({name}: {detail})" if detail else name)


class RedisSessionStore:
    def __init__(
        self,
        client_or_url: AnyRedis | str,
        *,
        ttl: int = DEFAULT_SESSION_TTL,
        prefix: str = "iijbot:v1",
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be a positive number of seconds")
        client: AnyRedis
        if isinstance(client_or_url, str):
            client = aioredis.Redis.from_url(client_or_url, **client_options())
            self._owned = True
        else:
            client = client_or_url
            self._owned = False  # the caller opened it and closes it
        self._client = client
        self._ttl = ttl
        self._marker_ttl = max(EXPIRED_MARKER_TTL, ttl)
        self._prefix = prefix
        self._load_script = client.register_script(_LOAD)
        self._commit_script = client.register_script(_COMMIT)

    @property
    def client(self) -> AnyRedis:
        return self._client

    def _keys(self, key: ConversationKey, event_id: str | None) -> list[str]:
        keys = [session_key(key, self._prefix), marker_key(key, self._prefix)]
        if event_id:
            keys.append(event_key(key, event_id, self._prefix))
        return keys

    async def load(self, key: ConversationKey, event_id: str | None = None) -> Loaded:
        try:
            raw, marker, seen = await self._load_script(keys=self._keys(key, event_id))
        except Exception as exc:
            if not _store_trouble(exc):
                raise
            raise _unavailable(exc) from None
        duplicate = bool(seen)
        return loaded(raw, marker=bool(marker), duplicate=duplicate)

    async def commit(
        self,
        key: ConversationKey,
        session: Session | None,
        expected_version: int,
        event_id: str | None = None,
    ) -> CommitStatus:
        payload = ""
        if session is not None:
            payload = replace(session, version=expected_version + 1).to_json()
        args: list[str | int] = [
            expected_version,
            payload,
            self._ttl,
            self._marker_ttl,
            EVENT_TTL,
            secrets.token_hex(8),
        ]
        try:
            result = await self._commit_script(keys=self._keys(key, event_id), args=args)
        except Exception as exc:
            if not _store_trouble(exc):
                raise
            raise _unavailable(exc) from None
        status = result.decode() if isinstance(result, bytes) else str(result)
        return CommitStatus(status)

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except Exception as exc:
            if not _store_trouble(exc):
                raise
            return False

    async def close(self) -> None:
        if self._owned:
            await self._client.aclose()
