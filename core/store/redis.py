"""The Redis session store: one round trip to load, one Lua compare-and-swap to commit.

Both scripts name every key they touch in KEYS, and all of one conversation's keys share the
hash tag {<platform>:<workspace>:<user>}, so the same code runs on a single Redis, behind
Sentinel and on Redis Cluster.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import replace
from typing import Any, TypeAlias

import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from core.events import TurnEvent
from core.inbound import ConversationKey
from core.metrics import EVENTS_DROPPED, EVENTS_RECORDED
from core.session import Session
from core.store.base import (
    DAY_MS,
    DEFAULT_EVENTS_MAXLEN,
    DEFAULT_EVENTS_RETENTION_DAYS,
    DEFAULT_SESSION_TTL,
    EVENT_TTL,
    EXPIRED_MARKER_TTL,
    CommitStatus,
    Loaded,
    StoreUnavailable,
    event_key,
    events_index_key,
    events_stream_key,
    loaded,
    marker_key,
    reminders_key,
    session_key,
)

log = logging.getLogger("iijbot.store")

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


def _append_event(stream: str, index: str, first: int, on_error: str) -> str:
    """The Lua that appends a turn's event, shared by the commit and the lone record.

    ARGV[first .. first+3] are the stream's MAXLEN, the retention (ms), the event's ms and
    the index TTL; its field/value pairs follow. The entry id carries the event's own time
    (ms-*) unless the stream holds a later one (a server whose clock is behind: then Redis
    picks it). Ids and trimming never run ahead of Redis' own clock: one chat run with
    `--now 2030-01-01` must not trim away every real event. An append refused twice runs
    `on_error`, a Lua statement that returns."""
    return f"""
local fields = {{}}
for i = {first + 4}, #ARGV do fields[#fields + 1] = ARGV[i] end
local t = redis.call('TIME')
local ms = math.min(tonumber(ARGV[{first + 2}]), t[1] * 1000 + math.floor(t[2] / 1000))
local id = redis.pcall('XADD', {stream}, 'MAXLEN', '~', ARGV[{first}], ms .. '-*', unpack(fields))
if type(id) == 'table' and id.err then
  id = redis.pcall('XADD', {stream}, 'MAXLEN', '~', ARGV[{first}], '*', unpack(fields))
end
if type(id) == 'table' and id.err then {on_error} end
redis.call('XTRIM', {stream}, 'MINID', ms - tonumber(ARGV[{first + 1}]))
redis.call('SADD', {index}, id)
redis.call('EXPIRE', {index}, ARGV[{first + 3}])"""


# KEYS: session, marker[, event]. Returns {session json or false, marker exists, event exists}.
# A session key holding another type (not written by us) reads as no session, as an
# undecodable value does (base.decode_session): the conversation starts afresh and its
# commit overwrites the key, instead of every message of that user failing for good.
_LOAD = """
local s = redis.pcall('GET', KEYS[1])
if type(s) == 'table' then s = false end
local m = redis.call('EXISTS', KEYS[2])
local e = 0
if KEYS[3] then e = redis.call('EXISTS', KEYS[3]) end
return {s, m, e}
"""

# KEYS: session, marker, delivery id, event stream, event index.
# ARGV: expected version, new JSON ('' = forget), session TTL, marker TTL, delivery id TTL,
# commit token, has delivery id ('1'/''), stream MAXLEN, retention (ms), event ms, index
# TTL, then the event's field/value pairs (none: no event).
# The delivery id key holds a per-commit token: if the client retries a commit whose reply
# was lost on the wire, the script recognises its own write and answers ok instead of
# duplicate. Python has already written version = expected + 1 into the JSON; only the
# stored version is decoded here. An undecodable stored value counts as version 0 (see
# base.decode_session), and so does a key of another type (WRONGTYPE), which SET replaces.
# The event goes in the same round trip; an append that fails (the stream under memory
# pressure) is answered 'ok:dropped' and the session is committed all the same.
_COMMIT = (
    """
if ARGV[7] == '1' then
  local seen = redis.pcall('GET', KEYS[3])
  if seen then
    if seen == ARGV[6] then return 'ok' end
    return 'duplicate'
  end
end
local cur = redis.pcall('GET', KEYS[1])
local v = 0
if type(cur) == 'string' then
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
if ARGV[7] == '1' then redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[5]) end
if #ARGV < 12 then return 'ok' end
"""
    + _append_event("KEYS[4]", "KEYS[5]", 8, "return 'ok:dropped'")
    + """
return 'ok'
"""
)

# KEYS: event stream, event index. ARGV: MAXLEN, retention (ms), event ms, index TTL,
# fields...
_RECORD = (
    _append_event("KEYS[1]", "KEYS[2]", 1, "return id")  # an error table: an error reply
    + """
return id
"""
)

# Stream entries read per XRANGE call by read_events.
_PAGE = 1000

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

# An event append outside a turn may also meet a full Redis (OOM is a ResponseError).
_RECORD_FAILURES: tuple[type[BaseException], ...] = (*_UNAVAILABLE, rexc.ResponseError)

# A server that is there but refuses writes until an operator acts: full under noeviction
# (OOM, which redis-py raises as OutOfMemoryError, also from inside our scripts), or unable
# to persist with stop-writes-on-bgsave-error (MISCONF, a plain ResponseError). For the
# customer it is an outage like any other, and the bot recovers once memory is freed.
_REFUSING = ("OOM ", "MISCONF ")


def _store_trouble(exc: BaseException) -> bool:
    """Whether exc means the store is not there right now (or refuses writes for now). Two
    more ways redis-py reports a connection torn down under it, both seen when a Cluster
    master dies mid-traffic: under uvloop, writing to a closed connection raises
    RuntimeError ("... the handler is closed") where asyncio's own loop raises OSError; and
    a cluster connection reset by a concurrent command is left without a writer
    (AttributeError on None.writelines)."""
    if isinstance(exc, (*_UNAVAILABLE, rexc.OutOfMemoryError)):
        return True
    if isinstance(exc, rexc.ResponseError):
        return str(exc).startswith(_REFUSING)
    if isinstance(exc, RuntimeError):
        return "handler is closed" in str(exc)
    return isinstance(exc, AttributeError) and "'NoneType'" in str(exc)


_USERINFO = re.compile(r"(?<=://)[^@/\s]*@")


def redact(text: str) -> str:
    """Drop user:password@ from any URL in text."""
    return _USERINFO.sub("***@", text)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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
        events_retention_days: int = DEFAULT_EVENTS_RETENTION_DAYS,
        events_maxlen: int = DEFAULT_EVENTS_MAXLEN,
        events_in_commit: bool | None = None,
    ) -> None:
        """events_in_commit: append a turn's event inside the commit script (one round
        trip). None = whenever the server allows it: not on Redis Cluster, where the event
        keys live in another slot and the event follows the commit in a second script."""
        if ttl <= 0:
            raise ValueError("ttl must be a positive number of seconds")
        if events_retention_days <= 0 or events_maxlen <= 0:
            raise ValueError("event retention and maxlen must be positive")
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
        self._record_script = client.register_script(_RECORD)
        self._retention_ms = events_retention_days * DAY_MS
        self._maxlen = events_maxlen
        # On Redis Cluster the event keys live in another slot than the conversation's:
        # the event is appended by a second script right after the commit instead.
        if events_in_commit is None:
            events_in_commit = not isinstance(client, RedisCluster)
        self._events_apart = not events_in_commit

    @property
    def client(self) -> AnyRedis:
        return self._client

    @property
    def prefix(self) -> str:
        return self._prefix

    def _keys(self, key: ConversationKey, event_id: str | None) -> list[str]:
        keys = [session_key(key, self._prefix), marker_key(key, self._prefix)]
        if event_id:
            keys.append(event_key(key, event_id, self._prefix))
        return keys

    def _event_args(self, event: TurnEvent) -> list[str | int]:
        args: list[str | int] = [
            self._maxlen,
            self._retention_ms,
            event.ts_ms,
            self._retention_ms // 1000,
        ]
        for name, value in event.to_fields().items():
            args += [name, value]
        return args

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
        event: TurnEvent | None = None,
    ) -> CommitStatus:
        payload = ""
        if session is not None:
            payload = replace(session, version=expected_version + 1).to_json()
        sk, mk = session_key(key, self._prefix), marker_key(key, self._prefix)
        dk = event_key(key, event_id, self._prefix) if event_id else mk
        keys = [sk, mk, dk]
        args: list[str | int] = [
            expected_version,
            payload,
            self._ttl,
            self._marker_ttl,
            EVENT_TTL,
            secrets.token_hex(8),
            "1" if event_id else "",
        ]
        if event is not None and not self._events_apart:
            keys += [events_stream_key(self._prefix), events_index_key(event.conv, self._prefix)]
            args += self._event_args(event)
        try:
            result = await self._commit_script(keys=keys, args=args)
        except Exception as exc:
            if not _store_trouble(exc):
                raise
            raise _unavailable(exc) from None
        status = result.decode() if isinstance(result, bytes) else str(result)
        if event is not None and status.startswith("ok"):
            if self._events_apart:
                await self.record(key, event)
            elif status == "ok:dropped":
                EVENTS_DROPPED.labels(event.platform).inc()
            else:
                EVENTS_RECORDED.labels(event.platform).inc()
        return CommitStatus(status.partition(":")[0])

    async def record(self, key: ConversationKey, event: TurnEvent) -> bool:
        keys = [events_stream_key(self._prefix), events_index_key(event.conv, self._prefix)]
        try:
            await self._record_script(keys=keys, args=self._event_args(event))
        except Exception as exc:
            if not (_store_trouble(exc) or isinstance(exc, _RECORD_FAILURES)):
                raise
            # A full or unreachable Redis costs the team one event, never the customer a turn.
            EVENTS_DROPPED.labels(event.platform).inc()
            return False
        EVENTS_RECORDED.labels(event.platform).inc()
        return True

    async def remember(self, key: ConversationKey, event_id: str) -> None:
        try:
            await self._client.set(event_key(key, event_id, self._prefix), "1", ex=EVENT_TTL)
        except Exception as exc:
            if not _store_trouble(exc):
                raise
            log.warning("event id not remembered: store unavailable (%s)", type(exc).__name__)

    async def erase(self, key: ConversationKey, conv: str | None) -> None:
        try:
            await self._client.delete(
                session_key(key, self._prefix),
                marker_key(key, self._prefix),
                reminders_key(key, self._prefix),
            )
            if conv is None:
                return
            index = events_index_key(conv, self._prefix)
            ids = list(await self._client.smembers(index))
            stream = events_stream_key(self._prefix)
            for i in range(0, len(ids), _PAGE):
                await self._client.xdel(stream, *ids[i : i + _PAGE])
            await self._client.delete(index)
        except Exception as exc:
            if not _store_trouble(exc):
                raise
            raise _unavailable(exc) from None

    async def read_events(self, since_ms: int, until_ms: int | None = None) -> list[TurnEvent]:
        stream = events_stream_key(self._prefix)
        out: list[TurnEvent] = []
        # Entry ids carry the turn's time (a minute's slack for an id Redis had to pick), or
        # Redis' time for an event dated ahead of it (a chat with --now): read from the
        # start to the end of the stream and let the ts field decide.
        start: str = str(max(0, since_ms - 60_000))
        end = "+"
        try:
            while True:
                page = await self._client.xrange(stream, start, end, count=_PAGE) or []
                for _, raw in page:
                    fields = {_text(k): _text(v) for k, v in (raw or {}).items()}
                    try:
                        ev = TurnEvent.from_fields(fields)
                    except ValueError:
                        continue  # not ours; the report must not die on one odd entry
                    if ev.ts_ms >= since_ms and (until_ms is None or ev.ts_ms < until_ms):
                        out.append(ev)
                if len(page) < _PAGE:
                    break
                start = "(" + _text(page[-1][0])
        except Exception as exc:
            if not _store_trouble(exc):
                raise
            raise _unavailable(exc) from None
        out.sort(key=lambda e: e.ts_ms)
        return out

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
