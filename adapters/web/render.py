"""Reply (core/reply.py) → the JSON the web page draws: every part of the reply kept
apart (texts, the card's rows, steps, notes, link and footer, choices, the date question),
so the page renders each with its own element and nothing is parsed back out of text."""

from __future__ import annotations

from typing import Any

from core.reply import Card, Reply, format_source_line


def reply_json(reply: Reply) -> dict[str, Any]:
    q = reply.date_question
    return {
        "node": reply.node,
        "texts": list(reply.texts),
        "card": card_json(reply.card) if reply.card is not None else None,
        # Generic: whatever choices a node offers (topics, 解決した / 解決しない,
        # リマインドする ...) are buttons with a label and a value, nothing special-cased.
        "choices": [{"label": c.label, "value": c.value} for c in reply.choices],
        "asks_date": reply.asks_date,
        "date": (
            None
            if q is None
            else {
                "prompt": q.prompt,
                "initial": q.initial.isoformat(),
                "min": q.min.isoformat(),
                "max": q.max.isoformat(),
            }
        ),
    }


def card_json(card: Card) -> dict[str, Any]:
    return {
        "title": card.title,
        "rows": [{"label": r.label, "value": r.value} for r in card.rows],
        "steps": list(card.steps),
        "notes": list(card.notes),
        "link": None if card.link is None else {"label": card.link.label, "url": card.link.url},
        "footer": format_source_line(card),
    }
