"""Walk every reachable state of the shipped flow and render each reply for LINE: every
message must be one LINE accepts (the SDK's own checks plus the ones it leaves to us).

The renderer writes the API's JSON itself; the SDK's models are the reference: each
message must parse with them and serialise back to exactly the JSON we send."""

from __future__ import annotations

from typing import Any

from linebot.v3.messaging import ReplyMessageRequest

from adapters.line import postback
from adapters.line.render import render_choice_page, render_notice, render_reply
from core.clip import graphemes, utf16_len
from core.reply import Choice, Reply
from tests.flow_walk import reachable_replies, resting_nodes


def _check_action(action: dict[str, Any], where: str) -> None:
    assert 1 <= len(graphemes(action["label"])) <= 20, where
    if "data" in action:
        assert len(action["data"]) <= 300, where
        pb = postback.decode(action["data"])
        assert pb.node, where  # every button says which question it answers
    if "displayText" in action:
        assert utf16_len(action["displayText"]) <= 300, where
    if action["type"] == "datetimepicker":
        assert action["min"] <= action["initial"] <= action["max"], where


def _walk_components(node: Any, where: str) -> None:
    if isinstance(node, dict):
        if "action" in node and isinstance(node["action"], dict):
            _check_action(node["action"], where)
        for v in node.values():
            _walk_components(v, where)
    elif isinstance(node, list):
        for v in node:
            _walk_components(v, where)


def check_line_limits(reply: Reply) -> int:
    messages = render_reply(reply)
    assert messages, reply.node
    # The SDK's own validation, and nothing lost or added in its reading of our JSON.
    request = ReplyMessageRequest.from_dict({"replyToken": "x", "messages": messages})
    assert request.to_dict()["messages"] == messages, reply.node
    dicts = messages
    for i, m in enumerate(dicts):
        where = f"{reply.node}[{i}]"
        if m["type"] == "text":
            assert 1 <= utf16_len(m["text"]) <= 5000, where
        if m["type"] == "flex":
            assert 1 <= utf16_len(m["altText"]) <= 1500, where
        assert ("quickReply" in m) <= (i == len(dicts) - 1), where  # only on the last
        _walk_components(m, where)
    if reply.choices or reply.date_question:
        assert dicts[-1]["quickReply"]["items"], reply.node
    return len(dicts)


def test_every_reachable_reply_renders_within_line_limits() -> None:
    seen_nodes: set[str] = set()
    for reply in reachable_replies():
        check_line_limits(reply)
        seen_nodes.add(reply.node)
    # Every node a user can stand on was shown at least once in the walk.
    assert resting_nodes() <= seen_nodes, sorted(resting_nodes() - seen_nodes)


def test_the_walk_shows_every_card_with_its_feedback_and_every_handoff_wording() -> None:
    # Issue 9: the two feedback choices ride on every card, and a handoff is said in each of
    # its wordings; the limit test above has rendered all of them.
    replies = list(reachable_replies())
    cards = [r for r in replies if r.card is not None]
    assert cards
    assert {tuple(c.label for c in r.choices[-2:]) for r in cards} == {("解決した", "解決しない")}
    said = "\n".join(t for r in replies for t in r.texts)
    for wording in (
        "このトークでお返事します",
        "このDMでお返事します",
        "受付時間外",
        "承っています",
    ):
        assert wording in said, wording


def test_choice_pages_and_notices_read_back_identically_by_the_sdk() -> None:
    """The other two message builders, checked against the SDK like the replies."""
    choices = [Choice(label=f"項目{i}", value=f"v{i}") for i in range(30)]
    pages = [render_choice_page("menu", choices, start) for start in (0, 12, 24)]
    for messages in [*pages, render_notice("ただいま混み合っています。")]:
        request = ReplyMessageRequest.from_dict({"replyToken": "x", "messages": messages})
        assert request.to_dict()["messages"] == messages
