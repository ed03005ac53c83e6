"""Walk every reachable state of the shipped flow and render each reply as Block Kit: every
message must be one Slack accepts (slack_sdk's model validation plus our own checks)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block

from adapters.slack import actions
from adapters.slack.home import home_view
from adapters.slack.render import render_reply
from core.clip import utf16_len
from core.dialogue import default_dialogue
from core.limits import SLACK_BLOCKS
from core.reply import Reply
from tests.flow_walk import NOWS, reachable_replies, resting_nodes


def _elements(blocks: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for b in blocks:
        out += [e for e in b.get("elements", []) if isinstance(e, dict) and "action_id" in e]
        if isinstance(b.get("accessory"), dict):
            out.append(b["accessory"])
    return out


def check_slack_limits(reply: Reply) -> None:
    msg = render_reply(reply)
    where = reply.node
    assert msg.text.strip(), where
    assert 1 <= len(msg.blocks) <= SLACK_BLOCKS, where
    for b in msg.blocks:
        parsed = Block.parse(b)
        assert parsed is not None, where
        parsed.to_dict()  # slack_sdk validates on serialisation
        if b["type"] == "section" and "text" in b:
            assert utf16_len(b["text"]["text"]) <= 3000, where
        if b["type"] == "header":
            assert utf16_len(b["text"]["text"]) <= 150, where
        if b["type"] == "actions":
            assert len(b["elements"]) <= 25, where
    elements = _elements(msg.blocks)
    ids = [e["action_id"] for e in elements]
    assert len(ids) == len(set(ids)), where
    for e in elements:
        assert len(e["action_id"]) <= 255, where
        if e["type"] == "button":
            assert 1 <= utf16_len(e["text"]["text"]) <= 75, where
            if "value" in e:
                assert len(e["value"]) <= 2000, where
                ref = actions.decode_choice(e["value"])
                assert ref is not None and ref.node == reply.node, where
    # Every choice the user can make is a button; a date question has a picker.
    values = [actions.decode_choice(e.get("value")) for e in elements if e["type"] == "button"]
    assert [r.value for r in values if r] == [c.value for c in reply.choices], where
    pickers = [e for e in elements if e["type"] == "datepicker"]
    assert len(pickers) == (1 if reply.date_question else 0), where


def test_every_reachable_reply_renders_within_block_kit_limits() -> None:
    seen_nodes: set[str] = set()
    for reply in reachable_replies():
        check_slack_limits(reply)
        seen_nodes.add(reply.node)
    # Every node a user can stand on was shown at least once in the walk.
    assert resting_nodes() <= seen_nodes, sorted(resting_nodes() - seen_nodes)


def test_home_view_of_the_shipped_menu_is_valid_and_offers_every_menu_choice() -> None:
    dialogue = default_dialogue()
    menu = dialogue.menu(NOWS[0], anywhere=True)
    view = home_view(menu)
    assert len(view["blocks"]) <= 100  # Slack's limit for home tabs
    labels = [
        e["text"]["text"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels == [c.label for c in menu.choices]
