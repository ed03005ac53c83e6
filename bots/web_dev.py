"""The web inspector's development tools (IIJBOT_DEV=1 only), built here so the web
adapter never imports the other adapters: the exact JSON a reply becomes on LINE and on
Slack, re-read by each platform SDK's models, with every platform limit it breaks or only
meets by cutting; and the clock override (`chat --now` for the web)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.web import DevTools
from core.clock import Clock, SystemClock
from core.limits import (
    LINE_ALT_TEXT,
    LINE_BUBBLE_BYTES,
    LINE_LABEL,
    LINE_MESSAGES,
    LINE_QUICK_REPLY_ITEMS,
    LINE_TEXT_UTF16,
    SLACK_BLOCKS,
    SLACK_LABEL,
    SLACK_SECTION_TEXT,
)
from core.reply import Reply


@dataclass
class DevClock:
    """SystemClock until the inspector sets a time; then that fixed instant for every
    turn of the web chat (one developer, one process: a shared setting is the point)."""

    fixed: datetime | None = None
    system: Clock = SystemClock()  # noqa: RUF009 (stateless, shared on purpose)

    def now(self) -> datetime:
        return self.fixed if self.fixed is not None else self.system.now()

    def set(self, at: datetime | None) -> None:
        self.fixed = at


def dev_tools(clock: DevClock) -> DevTools:
    return DevTools(previews=previews, set_clock=clock.set)


def previews(reply: Reply) -> dict[str, Any]:
    return {"line": line_preview(reply), "slack": slack_preview(reply)}


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def line_preview(reply: Reply) -> dict[str, Any]:
    from linebot.v3.messaging import ReplyMessageRequest

    from adapters.line.render import render_reply

    problems: list[str] = []
    try:
        messages = list(render_reply(reply))  # already the API JSON LINE is sent
    except Exception as exc:  # the renderer itself refused: that is the finding
        return {"json": None, "problems": [f"render failed: {exc}"]}
    try:
        ReplyMessageRequest.from_dict({"replyToken": "inspector", "messages": messages})
    except Exception as exc:
        problems.append(f"SDK model: {exc}".replace("\n", " "))
    if len(messages) > LINE_MESSAGES:
        problems.append(f"{len(messages)} messages > {LINE_MESSAGES}")
    shown_labels: list[str] = []
    for m in messages:
        if m.get("type") == "text" and _utf16(m.get("text", "")) > LINE_TEXT_UTF16:
            problems.append(f"text over {LINE_TEXT_UTF16} UTF-16 units")
        if m.get("type") == "flex":
            if len(m.get("altText", "")) > LINE_ALT_TEXT:
                problems.append(f"altText over {LINE_ALT_TEXT}")
            size = len(json.dumps(m.get("contents", {}), ensure_ascii=False).encode())
            if size > LINE_BUBBLE_BYTES:
                problems.append(f"bubble of {size} bytes > {LINE_BUBBLE_BYTES}")
        items = (m.get("quickReply") or {}).get("items", [])
        if len(items) > LINE_QUICK_REPLY_ITEMS:
            problems.append(f"{len(items)} quick replies > {LINE_QUICK_REPLY_ITEMS}")
        shown_labels += [i["action"].get("label", "") for i in items]
    problems += _cut_labels(reply, shown_labels, LINE_LABEL)
    if len(reply.choices) > LINE_QUICK_REPLY_ITEMS:
        problems.append(f"{len(reply.choices)} choices: LINE pages them ({LINE_QUICK_REPLY_ITEMS})")
    return {"json": messages, "problems": problems}


def slack_preview(reply: Reply) -> dict[str, Any]:
    from slack_sdk.models.blocks import Block

    from adapters.slack.render import render_reply

    problems: list[str] = []
    try:
        message = render_reply(reply)
    except Exception as exc:
        return {"json": None, "problems": [f"render failed: {exc}"]}
    payload = message.payload()
    for raw in payload["blocks"]:
        try:
            block = Block.parse(raw)
            if block is None:
                raise ValueError(f"unknown block {raw.get('type')!r}")
            block.validate_json()
        except Exception as exc:
            problems.append(f"SDK model: {exc}")
    if len(payload["blocks"]) > SLACK_BLOCKS:
        problems.append(f"{len(payload['blocks'])} blocks > {SLACK_BLOCKS}")
    labels: list[str] = []
    for raw in payload["blocks"]:
        text = (raw.get("text") or {}).get("text", "")
        if len(text) > SLACK_SECTION_TEXT:
            problems.append(f"section text over {SLACK_SECTION_TEXT}")
        labels += [e["text"]["text"] for e in raw.get("elements", []) if e.get("type") == "button"]
    problems += _cut_labels(reply, labels, SLACK_LABEL)
    return {"json": payload, "problems": problems}


def _cut_labels(reply: Reply, shown: list[str], limit: int) -> list[str]:
    """Choice labels the platform shows shortened: the reply meets the limit only by
    cutting, which a flow author wants to see."""
    full = {c.label for c in reply.choices}
    return [
        f"label cut to {limit}: {label!r}"
        for label in shown
        if label not in full and any(f.startswith(label.rstrip("…")) for f in full)
    ]
