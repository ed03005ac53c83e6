"""Walk every reachable state of the shipped flow and render each reply for LINE: every
message must be one LINE accepts (the SDK's own checks plus the ones it leaves to us)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from linebot.v3.messaging import ReplyMessageRequest

from adapters.line import postback
from adapters.line.limits import graphemes, utf16_len
from adapters.line.render import render_reply
from core.clock import JST
from core.dialogue import default_dialogue, load_flow
from core.intent import Command, Intent, IntentKind
from core.reply import Reply
from core.session import Session

NOWS = (
    datetime(2026, 6, 22, 10, 0, tzinfo=JST),
    datetime(2026, 6, 30, 20, 30, tzinfo=JST),  # month's last day, after the 20:00 cut-off
)
MAX_STATES = 5000


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
    ReplyMessageRequest(replyToken="x", messages=messages)  # the SDK's own validation
    dicts = [m.to_dict() for m in messages]
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


def _intents(reply: Reply, now: datetime) -> list[Intent]:
    out = [Intent(IntentKind.CHOICE, value=c.value, node=reply.node) for c in reply.choices]
    q = reply.date_question
    if q is not None:
        days = {q.initial, q.min, q.max, now.date() - timedelta(days=3), now.date().replace(day=1)}
        out += [Intent(IntentKind.DATE, date=d) for d in sorted(days) if q.min <= d <= q.max]
    out += [
        Intent(IntentKind.NO_INPUT),
        Intent(IntentKind.UNKNOWN),
        Intent(IntentKind.COMMAND, value=Command.HELP.value),
    ]
    return out


def test_every_reachable_reply_renders_within_line_limits() -> None:
    dialogue = default_dialogue()
    seen_nodes: set[str] = set()
    states = 0
    for now in NOWS:
        first_session, first = dialogue.step(None, Intent(IntentKind.START), now)
        queue: deque[tuple[Session | None, Reply]] = deque([(first_session, first)])
        seen: set[str] = set()
        while queue:
            session, reply = queue.popleft()
            check_line_limits(reply)
            seen_nodes.add(reply.node)
            if session is None:
                continue
            for intent in _intents(reply, now):
                nxt_session, nxt_reply = dialogue.step(session, intent, now)
                # Kept answers and histories make the state space combinatorial; what
                # must render is every distinct reply, so a reply seen once is not expanded
                # again.
                sig = repr(nxt_reply)
                if sig in seen:
                    continue
                seen.add(sig)
                states += 1
                assert states < MAX_STATES, "flow walk did not converge"
                queue.append((nxt_session, nxt_reply))
    # Every node the flow declares was shown to a user at least once in the walk.
    flow_nodes = set(load_flow().nodes)
    assert flow_nodes <= seen_nodes, sorted(flow_nodes - seen_nodes)
