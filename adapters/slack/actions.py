"""What our Block Kit elements carry, so a click can be mapped back to a choice.

Every interactive element we render has an action_id starting with ``iijbot:``; the
rest of the id says what kind it is. A button's value holds the node it was rendered
for and the choice value, so the core can tell a button of an older message (stale).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.limits import SLACK_ACTION_ID, SLACK_BUTTON_VALUE

PREFIX = "iijbot:"
CHOICE = "iijbot:choice"  # a reply's button: action_id f"{CHOICE}:{index}"
DATE = "iijbot:date"  # the datepicker: action_id f"{DATE}:{node}"
LINK = "iijbot:link"  # a link button (opens a page; the click is acknowledged only)
HOME = "iijbot:home"  # an App Home topic button: action_id f"{HOME}:{index}"


class SlackLimitError(ValueError):
    """A rendered message would break one of Slack's Block Kit limits."""


@dataclass(frozen=True)
class ChoiceRef:
    node: str | None  # None: valid whatever the current node (App Home topics)
    value: str


def encode_choice(node: str | None, value: str) -> str:
    raw = json.dumps({"n": node, "v": value}, ensure_ascii=False, separators=(",", ":"))
    if len(raw) > SLACK_BUTTON_VALUE:
        raise SlackLimitError(f"button value of {len(raw)} chars > {SLACK_BUTTON_VALUE}")
    return raw


def decode_choice(raw: str | None) -> ChoiceRef | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    node, value = data.get("n"), data.get("v")
    if not isinstance(value, str) or not value or not (node is None or isinstance(node, str)):
        return None
    return ChoiceRef(node=node, value=value)


def action_id(kind: str, suffix: str | int) -> str:
    aid = f"{kind}:{suffix}"
    if len(aid) > SLACK_ACTION_ID:
        raise SlackLimitError(f"action_id of {len(aid)} chars > {SLACK_ACTION_ID}")
    return aid


def kind_of(action_id_: str) -> str:
    """The kind part of one of our action ids ('' for an id that is not ours)."""
    for kind in (CHOICE, DATE, LINK, HOME):
        if action_id_ == kind or action_id_.startswith(kind + ":"):
            return kind
    return ""


def node_of_date_action(action_id_: str) -> str | None:
    rest = action_id_[len(DATE) + 1 :] if action_id_.startswith(DATE + ":") else ""
    return rest or None
