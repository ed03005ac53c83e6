"""LINE webhook JSON → platform-neutral Inbound, read from the raw JSON.

We read the decoded body ourselves instead of the SDK's typed events: the SDK turns a
text event without `quoteToken` (older clients, the console's test sends) into an
UnknownEvent and drops new event types silently; plain dicts keep every field we need
and let unknown shapes be ignored one by one instead of failing the whole batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from adapters.line import postback
from core.inbound import ConversationKey, Inbound, InboundKind

log = logging.getLogger("iijbot.line")

PLATFORM = "line"
ONE_TO_ONE = "-"
NO_INPUT_MESSAGES = frozenset({"sticker", "image", "video", "audio", "file", "location"})


class MalformedPayload(ValueError):
    pass


@dataclass(frozen=True)
class PageRequest:
    """「ほかの項目」 was tapped: show more choices of `node`, from `start`."""

    key: ConversationKey
    node: str | None
    start: int


@dataclass(frozen=True)
class LineEvent:
    """One event worth acting on: a turn to run (inbound) or a page of choices to show."""

    event_id: str
    user_id: str
    push_to: str  # where a push fallback goes: the user in 1:1, else the group or room
    one_to_one: bool
    reply_token: str | None
    redelivery: bool
    timestamp_ms: int | None = None  # when it happened, as LINE stamps it
    inbound: Inbound | None = None
    page: PageRequest | None = None


def events_of(payload: Any) -> list[dict[str, Any]]:
    """The `events` array of a webhook body, or MalformedPayload."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise MalformedPayload("body is not an object with an events array")
    return [e for e in payload["events"] if isinstance(e, dict)]


def parse_event(ev: dict[str, Any]) -> LineEvent | None:
    """None for anything we deliberately ignore (unknown types, standby mode, group chatter
    not addressed to us, events without a user)."""
    if ev.get("mode") == "standby":  # another channel owns this chat (module mode)
        return None
    source = ev.get("source") if isinstance(ev.get("source"), dict) else {}
    assert isinstance(source, dict)
    user_id = _str(source.get("userId"))
    if not user_id:
        return None
    src_type = _str(source.get("type")) or "user"
    if src_type == "group":
        workspace = _str(source.get("groupId"))
    elif src_type == "room":
        workspace = _str(source.get("roomId"))
    else:
        workspace = ONE_TO_ONE
    if not workspace:
        return None
    one_to_one = workspace == ONE_TO_ONE
    key = ConversationKey(platform=PLATFORM, workspace=workspace, user=user_id)

    event_id = _str(ev.get("webhookEventId"))
    if not event_id:
        return None
    delivery = ev.get("deliveryContext")
    redelivery = bool(isinstance(delivery, dict) and delivery.get("isRedelivery") is True)
    stamp = ev.get("timestamp")

    def made(inbound: Inbound | None = None, page: PageRequest | None = None) -> LineEvent:
        return LineEvent(
            event_id=event_id,
            user_id=user_id,
            push_to=user_id if one_to_one else workspace,
            one_to_one=one_to_one,
            reply_token=_str(ev.get("replyToken")) or None,
            redelivery=redelivery,
            timestamp_ms=stamp if isinstance(stamp, int) and not isinstance(stamp, bool) else None,
            inbound=inbound,
            page=page,
        )

    etype = ev.get("type")
    inbound: Inbound | None = None
    if etype == "message":
        inbound = _message(ev.get("message"), key, one_to_one, event_id)
    elif etype == "postback":
        pb = ev.get("postback") if isinstance(ev.get("postback"), dict) else {}
        assert isinstance(pb, dict)
        data = postback.decode(_str(pb.get("data")))
        if data.page is not None and not data.date:
            page = PageRequest(key=key, node=data.node, start=data.page)
            return made(page=page)
        inbound = _postback(pb, data, key, event_id)
    elif etype == "follow" and one_to_one:
        inbound = Inbound(key=key, kind=InboundKind.START, event_id=event_id)
    elif etype == "unfollow" and one_to_one:
        inbound = Inbound(key=key, kind=InboundKind.FORGET, event_id=event_id)
    if inbound is None:
        return None
    return made(inbound=inbound)


def _message(msg: Any, key: ConversationKey, one_to_one: bool, event_id: str) -> Inbound | None:
    if not isinstance(msg, dict):
        return None
    mtype = msg.get("type")
    if mtype == "text":
        text = _str(msg.get("text"))
        if not one_to_one:
            spans = _self_mentions(msg)
            if not spans:
                return None  # group chatter not addressed to the bot
            text = strip_spans(text, spans)
        return Inbound(key=key, kind=InboundKind.TEXT, text=text.strip(), event_id=event_id)
    if mtype in NO_INPUT_MESSAGES and one_to_one:
        # In a group a sticker cannot mention us, so it is not addressed to us.
        return Inbound(key=key, kind=InboundKind.NO_INPUT, event_id=event_id)
    return None


def _postback(
    pb: dict[str, Any], data: postback.Postback, key: ConversationKey, event_id: str
) -> Inbound | None:
    params = pb.get("params") if isinstance(pb.get("params"), dict) else {}
    assert isinstance(params, dict)
    picked = _str(params.get("date"))
    if picked:
        try:
            day = date.fromisoformat(picked)
        except ValueError:
            log.info("line: datetime picker sent an unreadable date")
            return None
        return Inbound(
            key=key, kind=InboundKind.DATE, date=day, choice_node=data.node, event_id=event_id
        )
    if data.value is None:
        return None  # not one of ours (or a picker without a date): nothing to act on
    return Inbound(
        key=key,
        kind=InboundKind.CHOICE,
        choice_value=data.value,
        choice_node=data.node,
        event_id=event_id,
    )


def _self_mentions(msg: dict[str, Any]) -> list[tuple[int, int]]:
    """(index, length) of mentions of this bot. `type: all` (@All) is not addressed to us."""
    mention = msg.get("mention")
    if not isinstance(mention, dict) or not isinstance(mention.get("mentionees"), list):
        return []
    spans: list[tuple[int, int]] = []
    for m in mention["mentionees"]:
        if isinstance(m, dict) and m.get("type", "user") == "user" and m.get("isSelf") is True:
            idx, length = m.get("index"), m.get("length")
            spans.append(
                (idx if isinstance(idx, int) else -1, length if isinstance(length, int) else 0)
            )
    return spans


def strip_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """Remove the mention spans. LINE gives index/length in UTF-16 units (as its apps
    count); when a span does not start at an "@" that way, code points are tried."""
    units = text.encode("utf-16-le")
    if all(i >= 0 and units[2 * i : 2 * i + 2] == "@".encode("utf-16-le") for i, _ in spans):
        for i, n in sorted(spans, reverse=True):
            units = units[: 2 * i] + units[2 * (i + n) :]
        return units.decode("utf-16-le", errors="replace")
    chars = text
    for i, n in sorted(spans, reverse=True):
        if 0 <= i < len(chars) and chars[i] == "@":
            chars = chars[:i] + chars[i + n :]
    return chars


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""
