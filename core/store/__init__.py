"""Session stores and the one place that turns REDIS_URL into one.

None / ""                                          → in memory (local chat)
redis://[:pw@]host:port/db, rediss://…, unix://…   → one Redis
redis+sentinel://[:pw@]h1:p1[,h2:p2]/service[/db]  → the master Sentinel names
redis+cluster://[:pw@]h1:p1[,h2:p2]                → Redis Cluster (rediss+cluster:// for TLS)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from core.store.base import (
    DEFAULT_EVENTS_RETENTION_DAYS,
    DEFAULT_SESSION_TTL,
    CommitStatus,
    Loaded,
    SessionStore,
    StoreUnavailable,
)
from core.store.memory import MemorySessionStore
from core.store.redis import RedisSessionStore, client_options, redact

__all__ = [
    "CommitStatus",
    "Loaded",
    "MemorySessionStore",
    "RedisSessionStore",
    "SessionStore",
    "StoreUnavailable",
    "store_from_url",
]


def store_from_url(
    url: str | None,
    *,
    ttl: int = DEFAULT_SESSION_TTL,
    prefix: str = "iijbot:v1",
    events_retention_days: int = DEFAULT_EVENTS_RETENTION_DAYS,
) -> SessionStore:
    if not url:
        return MemorySessionStore(ttl=ttl, events_retention_days=events_retention_days)
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValueError(f"not a Redis URL: {redact(url)!r}")
    opts: dict[str, Any] = {
        "ttl": ttl,
        "prefix": prefix,
        "events_retention_days": events_retention_days,
    }
    if scheme in ("redis", "rediss", "unix"):
        return RedisSessionStore(url, **opts)
    if scheme == "redis+sentinel":
        return RedisSessionStore(_sentinel_master(rest, url), **opts)
    if scheme in ("redis+cluster", "rediss+cluster"):
        return RedisSessionStore(_cluster(rest, tls=scheme.startswith("rediss")), **opts)
    raise ValueError(f"unsupported Redis URL scheme {scheme!r} in {redact(url)!r}")


def _split_auth(rest: str) -> tuple[dict[str, Any], str]:
    auth: dict[str, Any] = {}
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        return auth, rest
    user, colon, password = userinfo.partition(":")
    if colon:
        if user:
            auth["username"] = unquote(user)
        auth["password"] = unquote(password)
    elif userinfo:
        auth["password"] = unquote(userinfo)
    return auth, hostpart


def _hosts(hostlist: str, url: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for item in hostlist.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"expected host:port in {redact(url)!r}")
        out.append((host.strip("[]"), int(port)))
    return out


def _sentinel_master(rest: str, url: str) -> Any:
    from redis.asyncio.sentinel import Sentinel

    auth, hostpart = _split_auth(rest)
    hostlist, _, path = hostpart.partition("/")
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise ValueError(f"Sentinel URL needs a service name: {redact(url)!r}")
    db = int(parts[1]) if len(parts) > 1 else 0
    opts = client_options()
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        _hosts(hostlist, url),
        sentinel_kwargs={
            "socket_connect_timeout": opts["socket_connect_timeout"],
            "socket_timeout": opts["socket_timeout"],
        },
        **opts,
    )
    return sentinel.master_for(parts[0], db=db, **auth)


def _cluster(rest: str, *, tls: bool) -> Any:
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    auth, hostpart = _split_auth(rest)
    hostlist = hostpart.partition("/")[0]
    nodes = [ClusterNode(h, p) for h, p in _hosts(hostlist, rest)]
    return RedisCluster(startup_nodes=nodes, ssl=tls, **auth, **client_options())
