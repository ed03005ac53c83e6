"""The postback data our buttons carry, both ways.

Compact query-string form, e.g. `n=mnp_ask&v=yes`: n = the node the button was
rendered for (stale-button detection), then one of v = choice value, p = offset of the
quick-reply page to show, d = 1 for the date picker. LINE allows 300 characters; when a
percent-encoded value would not fit we fall back to JSON with raw characters,
which is shorter for Japanese.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qs, urlencode

from core.limits import LINE_POSTBACK_DATA


class PostbackTooLong(ValueError):
    pass


@dataclass(frozen=True)
class Postback:
    node: str | None = None
    value: str | None = None  # a choice
    page: int | None = None  # "show more": offset of the first choice on the next page
    date: bool = False  # a datetime picker of this node


@lru_cache(maxsize=8192)  # the flow's buttons are a few hundred; each reply renders ~10
def encode(pb: Postback) -> str:
    fields: dict[str, str] = {}
    if pb.node:
        fields["n"] = pb.node
    if pb.value is not None:
        fields["v"] = pb.value
    if pb.page is not None:
        fields["p"] = str(pb.page)
    if pb.date:
        fields["d"] = "1"
    data = urlencode(fields)
    if len(data) <= LINE_POSTBACK_DATA:
        return data
    data = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    if len(data) <= LINE_POSTBACK_DATA:
        return data
    # Never truncate: a cut value would select something else. Reply.validate keeps
    # values ≤ 200 so this means a flow-data bug, surfaced at render time.
    raise PostbackTooLong(f"postback data for node {pb.node!r} exceeds {LINE_POSTBACK_DATA}")


@lru_cache(maxsize=4096)  # frozen results; a bounded cache, whatever senders put in data
def decode(data: str) -> Postback:
    """Lenient: data we did not produce (or an old format) yields an empty Postback."""
    fields: dict[str, str] = {}
    if data.startswith("{"):
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the stack
            raw = {}
        if isinstance(raw, dict):
            fields = {str(k): str(v) for k, v in raw.items()}
    else:
        fields = {k: v[0] for k, v in parse_qs(data, keep_blank_values=True).items() if v}
    page: int | None = None
    if "p" in fields:
        try:
            page = max(int(fields["p"]), 0)
        except ValueError:
            page = None
    return Postback(
        node=fields.get("n") or None,
        value=fields.get("v") if fields.get("v") else None,
        page=page,
        date=fields.get("d") == "1",
    )
