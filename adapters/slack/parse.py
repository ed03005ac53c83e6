"""Slack payloads → Inbound. Pure functions of the JSON Slack sends; no I/O.

One conversation per user per workspace (ConversationKey("slack", team, user)),
whatever the surface: slash command, DM, mention, App Home, buttons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from adapters.slack import actions
from core.inbound import ConversationKey, Inbound, InboundKind

PLATFORM = "slack"

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


# Top-level fields Bolt indexes as objects before any listener of ours runs: a signed body
# with a string there would crash Bolt into a 500 (issue 8, edge 5).
_OBJECT_FIELDS = ("user", "team", "container", "view", "channel", "message", "enterprise", "event")


def shape_problem(body: dict[str, Any]) -> str | None:
    """Why a parsed, signed body is not something Slack sends (None when it could be).
    Only what Bolt and our listeners would index is checked; unknown fields are fine."""
    if not isinstance(body.get("type", ""), str):
        return "type is not a string"
    for name in _OBJECT_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], dict):
            return f"{name} is not an object"
    event = body.get("event")
    if "event" in body and not isinstance(event, dict):
        return "event is not an object"  # null too: Bolt indexes it
    if isinstance(event, dict) and not isinstance(event.get("type", ""), str):
        return "event.type is not a string"
    actions = body.get("actions")
    if ("actions" in body or body.get("type") == "block_actions") and not (
        isinstance(actions, list)
        and actions
        and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    ):
        return "actions is not a non-empty list of actions"
    return None


def key_for(team_id: str, user_id: str) -> ConversationKey:
    return ConversationKey(platform=PLATFORM, workspace=team_id or "-", user=user_id)


def strip_mentions(text: str) -> str:
    return " ".join(_MENTION.sub(" ", text).split())


def slash_inbound(body: dict[str, Any]) -> Inbound | None:
    """`/iijmio` → START (the menu); `/iijmio 解約` → that text, straight into the topic."""
    user = str(body.get("user_id") or "")
    if not user:
        return None
    key = key_for(str(body.get("team_id") or ""), user)
    text = strip_mentions(str(body.get("text") or ""))
    # Slash commands carry no delivery id; trigger_id is unique per invocation.
    event_id = f"cmd:{body['trigger_id']}" if body.get("trigger_id") else None
    if not text:
        return Inbound(key=key, kind=InboundKind.START, event_id=event_id)
    return Inbound(key=key, kind=InboundKind.TEXT, text=text, event_id=event_id)


def _team_of(body: dict[str, Any]) -> str:
    team = body.get("team")
    if isinstance(team, dict) and team.get("id"):
        return str(team["id"])
    user = body.get("user")
    if isinstance(user, dict) and user.get("team_id"):
        return str(user["team_id"])
    return str(body.get("team_id") or "")


def action_delivery_id(body: dict[str, Any], action: dict[str, Any]) -> str:
    """The same click delivered twice yields the same id; two clicks do not."""
    container = body.get("container") or {}
    where = container.get("message_ts") or container.get("view_id") or ""
    user = (body.get("user") or {}).get("id", "")
    return f"act:{where}:{action.get('action_ts', '')}:{user}"


def action_inbound(body: dict[str, Any], action: dict[str, Any]) -> Inbound | None:
    """A button or datepicker of ours → CHOICE / DATE; anything else (links, foreign) → None."""
    user = (body.get("user") or {}).get("id")
    if not user:
        return None
    key = key_for(_team_of(body), str(user))
    kind = actions.kind_of(str(action.get("action_id", "")))
    event_id = action_delivery_id(body, action)
    if kind in (actions.CHOICE, actions.HOME):
        ref = actions.decode_choice(action.get("value"))
        if ref is None:
            return None
        return Inbound(
            key=key,
            kind=InboundKind.CHOICE,
            choice_value=ref.value,
            choice_node=ref.node,
            event_id=event_id,
        )
    if kind == actions.DATE:
        picked = _parse_date(action.get("selected_date"))
        # An unparseable date still reaches the core, which asks again.
        return Inbound(
            key=key,
            kind=InboundKind.DATE,
            date=picked,
            choice_node=actions.node_of_date_action(str(action.get("action_id", ""))),
            event_id=event_id,
        )
    return None


def _parse_date(raw: Any) -> date | None:
    if not isinstance(raw, str):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def is_from_a_bot(event: dict[str, Any], bot_user_id: str | None) -> bool:
    """Bots (ours included), edits, joins and every other subtype are not the user talking."""
    if event.get("bot_id") or event.get("subtype") or event.get("bot_profile"):
        return True
    return bot_user_id is not None and event.get("user") == bot_user_id


def message_inbound(
    body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None
) -> Inbound | None:
    """A DM (message.im) or a mention (app_mention) → TEXT, or None when it is not for us."""
    if is_from_a_bot(event, bot_user_id) or not event.get("user"):
        return None
    team = str(body.get("team_id") or event.get("team") or "")
    key = key_for(team, str(event["user"]))
    event_id = body.get("event_id")
    text = strip_mentions(str(event.get("text") or ""))
    eid = str(event_id) if event_id else None
    if not text:
        # A file or a bare mention: nothing typed, counts as no input.
        return Inbound(key=key, kind=InboundKind.NO_INPUT, event_id=eid)
    return Inbound(key=key, kind=InboundKind.TEXT, text=text, event_id=eid)


@dataclass(frozen=True)
class ActionTarget:
    """Where the answer to a click goes."""

    response_url: str | None  # message containers (channel / ephemeral): update in place
    channel: str | None  # message without response_url: chat.update this message
    message_ts: str | None


def action_target(body: dict[str, Any]) -> ActionTarget:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    url = body.get("response_url")
    if not url:
        urls = body.get("response_urls") or []
        url = urls[0].get("response_url") if urls else None
    if container.get("type") == "view":
        return ActionTarget(response_url=None, channel=None, message_ts=None)
    return ActionTarget(response_url=url or None, channel=channel, message_ts=ts)
