"""Reply (core/reply.py) → LINE messages: texts, the fact card as a Flex bubble, the
date question with a native picker, and choices as quick replies on the last message.

Messages are built once, as the plain JSON objects of LINE's Messaging API, and sent as
they are: building the SDK's pydantic models and serialising them again cost more than
the whole rest of a turn under load. The SDK's models stay the reference:
tests/integration/test_line_flow_walk.py parses every message of a full flow walk with
them and requires the same JSON back.

Every limit the SDK leaves to the server is enforced here (see limits.py), so a reply
that passes core's validation can never be refused by LINE for its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from adapters.line import postback
from adapters.line.limits import fit_alt_text, fit_label, fit_text
from adapters.line.texts import say
from core.clip import truncate_utf16
from core.limits import LINE_DISPLAY_TEXT, LINE_MESSAGES, LINE_QUICK_REPLY_ITEMS
from core.reply import Card, Choice, DateQuestion, Reply, card_as_text, format_source_line

# One message object of the Messaging API, e.g. {"type": "text", "text": "..."}.
Message = dict[str, Any]
Action = dict[str, Any]

_GREY = "#888888"
_ACCENT = "#A3171E"  # the rich menu's red, so card titles match it


def text_message(text: str) -> Message:
    return {"type": "text", "text": text}


def render_reply(reply: Reply) -> list[Message]:
    """At most five messages; quick replies (choices, date picker) on the last one."""
    bodies: list[Message] = [text_message(fit_text(t)) for t in reply.texts if t.strip()]
    if reply.card is not None:
        bodies.append(card_message(reply.card))
    if reply.date_question is not None:
        bodies.append(text_message(fit_text(date_prompt(reply.date_question))))
    bodies = _fit_count(bodies)

    items = quick_reply_items(reply.node, reply.choices, reply.date_question)
    if items and not bodies:
        bodies.append(text_message(say("choose_prompt")))
    if items:
        bodies[-1]["quickReply"] = {"items": items}
    return bodies


def render_choice_page(node: str, choices: Sequence[Choice], start: int) -> list[Message]:
    """The answer to 「ほかの項目」: the same question's choices from `start` on."""
    items = quick_reply_items(node, choices, None, start)
    if not items:
        return []
    return [{**text_message(say("more_prompt")), "quickReply": {"items": items}}]


def render_notice(text: str) -> list[Message]:
    return [text_message(fit_text(text))]


def _fit_count(bodies: list[Message]) -> list[Message]:
    """More than five bubbles: merge the leading plain texts (core allows 3 texts + card +
    date prompt, which fits; this guards against a future model change)."""
    if len(bodies) <= LINE_MESSAGES:
        return bodies
    overflow = len(bodies) - LINE_MESSAGES + 1
    head = bodies[:overflow]
    if all(m["type"] == "text" for m in head):
        merged = "\n\n".join(str(m["text"]) for m in head)
        return [text_message(fit_text(merged)), *bodies[overflow:]]
    return bodies[: LINE_MESSAGES - 1] + bodies[-1:]


# --- quick replies ---------------------------------------------------------------------


def _item(action: Action) -> dict[str, Any]:
    return {"type": "action", "action": action}


def quick_reply_items(
    node: str,
    choices: Sequence[Choice],
    date_question: DateQuestion | None,
    start: int = 0,
) -> list[dict[str, Any]]:
    """Up to 13 items. The date picker (when asked) comes first. When the choices do not
    fit, a page holds as many as it can and a 「ほかの項目」 item leads on; it carries the
    offset of the next page (not a page number) because a page with the date picker holds
    one choice fewer than the pages after it. The last page leads back to the first."""
    items: list[dict[str, Any]] = []
    if date_question is not None:
        items.append(_item(date_picker_action(node, date_question)))
    room = LINE_QUICK_REPLY_ITEMS - len(items)
    start = start if 0 <= start < len(choices) else 0
    shown: Sequence[Choice] = choices
    more: int | None = None
    if len(choices) > room:
        shown = choices[start : start + room - 1]
        nxt = start + len(shown)
        more = nxt if nxt < len(choices) else 0
    items += [_choice_item(node, c) for c in shown]
    if more is not None:
        data = postback.encode(postback.Postback(node=node, page=more))
        label = say("more_label")
        items.append(
            _item({"type": "postback", "label": label, "data": data, "displayText": label})
        )
    return items


@lru_cache(maxsize=4096)
def _choice_item(node: str, choice: Choice) -> dict[str, Any]:
    """A button of the flow, built once: the same node and choice always give the same
    item. Shared between replies, so nothing may change a rendered message in place."""
    return _item(choice_action(node, choice))


def choice_action(node: str, choice: Choice) -> Action:
    label = fit_label(choice.label)
    data = postback.encode(postback.Postback(node=node, value=choice.value))
    # displayText puts the tapped label in the chat, as if the user had typed it.
    return {
        "type": "postback",
        "label": label,
        "data": data,
        "displayText": truncate_utf16(choice.label, LINE_DISPLAY_TEXT),
    }


def date_picker_action(node: str, q: DateQuestion) -> Action:
    lo, hi = min(q.min, q.max), max(q.min, q.max)
    initial = min(max(q.initial, lo), hi)  # LINE refuses an initial outside [min, max]
    return {
        "type": "datetimepicker",
        "label": say("date_pick_label"),
        "data": postback.encode(postback.Postback(node=node, date=True)),
        "mode": "date",
        "initial": initial.isoformat(),
        "max": hi.isoformat(),
        "min": lo.isoformat(),
    }


def date_prompt(q: DateQuestion) -> str:
    return say(
        "date_prompt",
        prompt=q.prompt,
        picker=say("date_pick_label"),
        example=_example_date(q.initial),
    )


def _example_date(d: date) -> str:
    return f"{d.year}/{d.month}/{d.day}"


# --- the fact card ---------------------------------------------------------------------


def card_message(card: Card) -> Message:
    alt = fit_alt_text(card_as_text(card))
    return {"type": "flex", "altText": alt, "contents": card_bubble(card)}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "text", "text": text, **style}


def _box(layout: str, contents: list[dict[str, Any]], **style: Any) -> dict[str, Any]:
    return {"type": "box", "layout": layout, "contents": contents, **style}


def _separator() -> dict[str, Any]:
    return {"type": "separator", "margin": "lg"}


def card_bubble(card: Card) -> dict[str, Any]:
    header = _box(
        "vertical",
        [_text(card.title, weight="bold", size="lg", color=_ACCENT, wrap=True)],
        paddingBottom="md",
    )
    body: list[dict[str, Any]] = []
    for row in card.rows:
        body.append(
            _box(
                "horizontal",
                [
                    _text(row.label, size="sm", color=_GREY, wrap=True, flex=2),
                    _text(row.value, size="sm", weight="bold", wrap=True, flex=3),
                ],
                spacing="md",
                margin="md",
            )
        )
    if card.steps:
        if body:
            body.append(_separator())
        for i, step in enumerate(card.steps, 1):
            body.append(
                _box(
                    "horizontal",
                    [
                        _text(f"{i}.", size="sm", flex=0, weight="bold"),
                        _text(step, size="sm", wrap=True, flex=1),
                    ],
                    spacing="sm",
                    margin="md",
                )
            )
    if card.notes:
        if body:
            body.append(_separator())
        for note in card.notes:
            body.append(_text(f"※ {note}", size="xs", color=_GREY, wrap=True, margin="md"))

    footer: list[dict[str, Any]] = []
    if card.link is not None:
        link = {"type": "uri", "label": fit_label(card.link.label), "uri": card.link.url}
        footer.append({"type": "button", "action": link, "style": "link", "height": "sm"})
    source = format_source_line(card)
    if source:
        footer.append(_text(source, size="xxs", color=_GREY, wrap=True, margin="sm"))

    bubble: dict[str, Any] = {"type": "bubble", "header": header}
    if body:
        bubble["body"] = _box("vertical", body)
    if footer:
        bubble["footer"] = _box("vertical", footer)
    return bubble
