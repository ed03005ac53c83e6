"""What LINE and Slack would refuse, checked on what the stubs received.

Each function returns the problems found (empty: the platform accepts it). LINE messages
are also read back through the LINE SDK's own models and Slack blocks through slack_sdk's,
the references the renderers are written against; the lengths the SDKs do not check are
checked here against core/limits.py.
"""

from __future__ import annotations

import json
from typing import Any

from linebot.v3.messaging import Message
from slack_sdk.models.blocks import Block

from core.clip import graphemes, utf16_len
from core.limits import (
    LINE_ALT_TEXT,
    LINE_BUBBLE_BYTES,
    LINE_DISPLAY_TEXT,
    LINE_LABEL,
    LINE_MESSAGES,
    LINE_POSTBACK_DATA,
    LINE_QUICK_REPLY_ITEMS,
    LINE_TEXT_UTF16,
    SLACK_BLOCKS,
    SLACK_FALLBACK,
)


def _walk(node: Any) -> list[dict[str, Any]]:
    """Every JSON object inside node, node included."""
    out: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            out.append(cur)
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return out


def line_problems(messages: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    if not 1 <= len(messages) <= LINE_MESSAGES:
        problems.append(f"{len(messages)} messages in one request")
    for msg in messages:
        try:
            Message.from_dict(msg)
        except Exception as exc:  # the SDK's models refuse it
            problems.append(f"not a LINE message ({type(exc).__name__}): {exc}")
        if msg.get("type") == "text" and utf16_len(msg.get("text", "")) > LINE_TEXT_UTF16:
            problems.append("text longer than 5000 UTF-16 units")
        if msg.get("type") == "text" and not msg.get("text", "").strip():
            problems.append("empty text message")
        if msg.get("type") == "flex":
            if utf16_len(msg.get("altText", "")) > LINE_ALT_TEXT:
                problems.append("altText longer than 1500")
            contents = json.dumps(msg.get("contents"), ensure_ascii=False).encode()
            if len(contents) > LINE_BUBBLE_BYTES:
                problems.append(f"flex bubble of {len(contents)} bytes")
        items = (msg.get("quickReply") or {}).get("items", [])
        if len(items) > LINE_QUICK_REPLY_ITEMS:
            problems.append(f"{len(items)} quick-reply items")
        for obj in _walk(msg):
            label = obj.get("label")
            if isinstance(label, str) and (len(graphemes(label)) > LINE_LABEL or not label.strip()):
                problems.append(f"label {label!r}")
            if obj.get("type") == "postback" and len(obj.get("data", "")) > LINE_POSTBACK_DATA:
                problems.append("postback data longer than 300")
            if len(obj.get("displayText", "") or "") > LINE_DISPLAY_TEXT:
                problems.append("displayText longer than 300")
    return problems


def slack_problems(body: dict[str, Any]) -> list[str]:
    """A chat.postMessage / postEphemeral / update, a response_url post or a view."""
    problems: list[str] = []
    blocks = body.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    view = body.get("view")
    if isinstance(view, str):
        view = json.loads(view)
    if isinstance(view, dict):
        blocks = view.get("blocks")
    text = body.get("text")
    if not blocks and not text:
        problems.append("neither text nor blocks")
    if isinstance(text, str) and len(text) > SLACK_FALLBACK:
        problems.append(f"fallback text of {len(text)} characters")
    for raw in blocks or []:
        try:
            block = Block.parse(raw)
            assert block is not None, f"unknown block {raw!r}"
            block.validate_json()  # slack_sdk checks Block Kit's lengths and counts
        except Exception as exc:
            problems.append(f"block refused ({type(exc).__name__}): {exc}")
    if blocks and len(blocks) > SLACK_BLOCKS:
        problems.append(f"{len(blocks)} blocks")
    return problems
