"""Reply → what a terminal shows: plain text with numbered choices, or the --json object."""

from __future__ import annotations

from typing import Any

from adapters.text.texts import say
from core.reply import Reply


def render_banner() -> str:
    """The line an interactive terminal chat opens with."""
    return say("banner")


def render_plain(reply: Reply) -> str:
    parts = list(reply.readable_texts())
    if reply.asks_date:
        parts.append(say("date_hint"))
    if reply.choices:
        parts.append("\n".join(f"  {i}. {c.label}" for i, c in enumerate(reply.choices, 1)))
    return "\n\n".join(parts)


def render_json(reply: Reply) -> dict[str, Any]:
    """The `chat --json` contract of docs/design.md: exactly these four keys."""
    return {
        "node": reply.node,
        "texts": reply.readable_texts(),
        "choices": [{"label": c.label, "value": c.value} for c in reply.choices],
        "asks_date": reply.asks_date,
    }
