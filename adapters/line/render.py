"""Reply (core/reply.py) → LINE messages: texts, the fact card as a Flex bubble, the
date question with a native picker, and choices as quick replies on the last message.

Every limit the SDK leaves to the server is enforced here (see limits.py), so a reply
that passes core's validation can never be refused by LINE for its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from linebot.v3.messaging import (
    DatetimePickerAction,
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexComponent,
    FlexMessage,
    FlexSeparator,
    FlexText,
    Message,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
    URIAction,
)

from adapters.line import postback
from adapters.line.limits import fit_alt_text, fit_label, fit_text
from adapters.line.texts import say
from core.clip import truncate_utf16
from core.limits import LINE_DISPLAY_TEXT, LINE_MESSAGES, LINE_QUICK_REPLY_ITEMS
from core.reply import Card, Choice, DateQuestion, Reply, card_as_text, format_source_line

_GREY = "#888888"
_ACCENT = "#A3171E"  # the rich menu's red, so card titles match it


def render_reply(reply: Reply) -> list[Message]:
    """At most five messages; quick replies (choices, date picker) on the last one."""
    bodies: list[Message] = [TextMessage(text=fit_text(t)) for t in reply.texts if t.strip()]
    if reply.card is not None:
        bodies.append(card_message(reply.card))
    if reply.date_question is not None:
        bodies.append(TextMessage(text=fit_text(date_prompt(reply.date_question))))
    bodies = _fit_count(bodies)

    items = quick_reply_items(reply.node, reply.choices, reply.date_question)
    if items and not bodies:
        bodies.append(TextMessage(text=say("choose_prompt")))
    if items:
        bodies[-1].quick_reply = QuickReply(items=items)
    return bodies


def render_choice_page(node: str, choices: Sequence[Choice], start: int) -> list[Message]:
    """The answer to 「ほかの項目」: the same question's choices from `start` on."""
    items = quick_reply_items(node, choices, None, start)
    if not items:
        return []
    return [TextMessage(text=say("more_prompt"), quick_reply=QuickReply(items=items))]


def render_notice(text: str) -> list[Message]:
    return [TextMessage(text=fit_text(text))]


def _fit_count(bodies: list[Message]) -> list[Message]:
    """More than five bubbles: merge the leading plain texts (core allows 3 texts + card +
    date prompt, which fits; this guards against a future model change)."""
    if len(bodies) <= LINE_MESSAGES:
        return bodies
    overflow = len(bodies) - LINE_MESSAGES + 1
    head = bodies[:overflow]
    if all(isinstance(m, TextMessage) for m in head):
        merged = "\n\n".join(m.text for m in head if isinstance(m, TextMessage))
        return [TextMessage(text=fit_text(merged)), *bodies[overflow:]]
    return bodies[: LINE_MESSAGES - 1] + bodies[-1:]


# --- quick replies ---------------------------------------------------------------------


def quick_reply_items(
    node: str,
    choices: Sequence[Choice],
    date_question: DateQuestion | None,
    start: int = 0,
) -> list[QuickReplyItem]:
    """Up to 13 items. The date picker (when asked) comes first. When the choices do not
    fit, a page holds as many as it can and a 「ほかの項目」 item leads on; it carries the
    offset of the next page (not a page number) because a page with the date picker holds
    one choice fewer than the pages after it. The last page leads back to the first."""
    items: list[QuickReplyItem] = []
    if date_question is not None:
        items.append(QuickReplyItem(action=date_picker_action(node, date_question)))
    room = LINE_QUICK_REPLY_ITEMS - len(items)
    start = start if 0 <= start < len(choices) else 0
    shown: Sequence[Choice] = choices
    more: int | None = None
    if len(choices) > room:
        shown = choices[start : start + room - 1]
        nxt = start + len(shown)
        more = nxt if nxt < len(choices) else 0
    items += [QuickReplyItem(action=choice_action(node, c)) for c in shown]
    if more is not None:
        data = postback.encode(postback.Postback(node=node, page=more))
        label = say("more_label")
        items.append(
            QuickReplyItem(action=PostbackAction(label=label, data=data, displayText=label))
        )
    return items


def choice_action(node: str, choice: Choice) -> PostbackAction:
    label = fit_label(choice.label)
    data = postback.encode(postback.Postback(node=node, value=choice.value))
    # displayText puts the tapped label in the chat, as if the user had typed it.
    return PostbackAction(
        label=label, data=data, displayText=truncate_utf16(choice.label, LINE_DISPLAY_TEXT)
    )


def date_picker_action(node: str, q: DateQuestion) -> DatetimePickerAction:
    lo, hi = min(q.min, q.max), max(q.min, q.max)
    initial = min(max(q.initial, lo), hi)  # LINE refuses an initial outside [min, max]
    return DatetimePickerAction(
        label=say("date_pick_label"),
        data=postback.encode(postback.Postback(node=node, date=True)),
        mode="date",
        initial=initial.isoformat(),
        min=lo.isoformat(),
        max=hi.isoformat(),
    )


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


def card_message(card: Card) -> FlexMessage:
    return FlexMessage(altText=fit_alt_text(card_as_text(card)), contents=card_bubble(card))


def card_bubble(card: Card) -> FlexBubble:
    header = FlexBox(
        layout="vertical",
        contents=[FlexText(text=card.title, weight="bold", size="lg", color=_ACCENT, wrap=True)],
        paddingBottom="md",
    )
    body: list[FlexComponent] = []
    for row in card.rows:
        body.append(
            FlexBox(
                layout="horizontal",
                spacing="md",
                margin="md",
                contents=[
                    FlexText(text=row.label, size="sm", color=_GREY, wrap=True, flex=2),
                    FlexText(text=row.value, size="sm", weight="bold", wrap=True, flex=3),
                ],
            )
        )
    if card.steps:
        if body:
            body.append(FlexSeparator(margin="lg"))
        for i, step in enumerate(card.steps, 1):
            body.append(
                FlexBox(
                    layout="horizontal",
                    spacing="sm",
                    margin="md",
                    contents=[
                        FlexText(text=f"{i}.", size="sm", flex=0, weight="bold"),
                        FlexText(text=step, size="sm", wrap=True, flex=1),
                    ],
                )
            )
    if card.notes:
        if body:
            body.append(FlexSeparator(margin="lg"))
        for note in card.notes:
            body.append(FlexText(text=f"※ {note}", size="xs", color=_GREY, wrap=True, margin="md"))

    footer: list[FlexComponent] = []
    if card.link is not None:
        footer.append(
            FlexButton(
                action=URIAction(label=fit_label(card.link.label), uri=card.link.url),
                style="link",
                height="sm",
            )
        )
    source = format_source_line(card)
    if source:
        footer.append(FlexText(text=source, size="xxs", color=_GREY, wrap=True, margin="sm"))

    return FlexBubble(
        header=header,
        body=FlexBox(layout="vertical", contents=body) if body else None,
        footer=FlexBox(layout="vertical", contents=footer) if footer else None,
    )
