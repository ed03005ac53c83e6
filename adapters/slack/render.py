"""Reply → Block Kit (built with slack_sdk.models so the SDK validates every block).

Slack rejects a whole message when one block breaks a limit, so the renderer clips and
splits instead of trusting the input, then checks what the SDK does not: the 50-block
cap and unique action ids. Lengths are measured in UTF-16 code units (core/clip.py),
which is never less than Python's code-point count: an emoji-heavy label clipped this
way passes whichever way Slack counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from adapters.slack.actions import (
    CHOICE,
    DATE,
    LINK,
    SlackLimitError,
    action_id,
    encode_choice,
)
from adapters.slack.texts import say
from core.clip import graphemes, truncate_utf16, utf16_len, utf16_prefix
from core.limits import (
    SLACK_ACTIONS_ELEMENTS,
    SLACK_BLOCKS,
    SLACK_CONTEXT_TEXT,
    SLACK_FALLBACK,
    SLACK_FIELD_TEXT,
    SLACK_FIELDS,
    SLACK_HEADER,
    SLACK_LABEL,
    SLACK_SECTION_TEXT,
)
from core.reply import Card, Choice, Reply, format_source_line


@dataclass(frozen=True)
class SlackMessage:
    text: str  # top-level fallback text, always set
    blocks: tuple[dict[str, Any], ...]

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": list(self.blocks)}


def escape_mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_text(text: str, limit: int = SLACK_SECTION_TEXT) -> list[str]:
    """Cut a long text into pieces of at most `limit` units, at line breaks where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = line if not current else current + "\n" + line
        if utf16_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while utf16_len(line) > limit:
            # At least one grapheme a piece, or a limit below one would never end.
            head = utf16_prefix(line, limit) or graphemes(line)[0]
            pieces.append(head)
            line = line[len(head) :]
        current = line
    if current.strip():
        pieces.append(current)
    return pieces


def _sections(text: str) -> list[Block]:
    # Escaping can lengthen the text, so split what will actually be sent.
    return [SectionBlock(text=MarkdownTextObject(text=p)) for p in split_text(escape_mrkdwn(text))]


def _card_blocks(card: Card) -> list[Block]:
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate_utf16(card.title, SLACK_HEADER)))
    ]
    fields = [
        MarkdownTextObject(
            text=truncate_utf16(
                f"*{escape_mrkdwn(r.label)}*\n{escape_mrkdwn(r.value)}", SLACK_FIELD_TEXT
            )
        )
        for r in card.rows
    ]
    for i in range(0, len(fields), SLACK_FIELDS):
        blocks.append(SectionBlock(fields=fields[i : i + SLACK_FIELDS]))
    if card.steps:
        blocks += _sections("\n".join(f"{i}. {s}" for i, s in enumerate(card.steps, 1)))
    if card.notes:
        blocks += _sections("\n".join(f"※ {n}" for n in card.notes))
    source = format_source_line(card)
    if source:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=truncate_utf16(escape_mrkdwn(source), SLACK_CONTEXT_TEXT)
                    )
                ]
            )
        )
    if card.link is not None:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text=truncate_utf16(card.link.label, SLACK_LABEL)),
                        url=card.link.url,
                        action_id=action_id(LINK, 0),
                    )
                ]
            )
        )
    return blocks


def choice_buttons(items: Sequence[tuple[str | None, Choice]], kind: str = CHOICE) -> list[Block]:
    """Buttons for (node the choice belongs to, choice) pairs, 25 to an actions block."""
    buttons = [
        ButtonElement(
            text=PlainTextObject(text=truncate_utf16(c.label, SLACK_LABEL)),
            action_id=action_id(kind, i),
            value=encode_choice(node, c.value),
        )
        for i, (node, c) in enumerate(items)
    ]
    return [
        ActionsBlock(elements=buttons[i : i + SLACK_ACTIONS_ELEMENTS])
        for i in range(0, len(buttons), SLACK_ACTIONS_ELEMENTS)
    ]


def fallback_text(reply: Reply) -> str:
    text = "\n".join(t for t in reply.readable_texts() if t.strip())
    return truncate_utf16(text, SLACK_FALLBACK) if text.strip() else say("fallback")


def reply_blocks(reply: Reply) -> list[Block]:
    blocks: list[Block] = []
    for t in reply.texts:
        blocks += _sections(t)
    if reply.card is not None:
        blocks += _card_blocks(reply.card)
    q = reply.date_question
    if q is not None:
        pieces = split_text(escape_mrkdwn(q.prompt)) or [say("date_placeholder")]
        blocks += [SectionBlock(text=MarkdownTextObject(text=p)) for p in pieces[:-1]]
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=pieces[-1]),
                accessory=DatePickerElement(
                    action_id=action_id(DATE, reply.node),
                    initial_date=q.initial.isoformat(),
                    placeholder=PlainTextObject(text=say("date_placeholder")),
                ),
            )
        )
    blocks += choice_buttons([(reply.node, c) for c in reply.choices])
    return blocks


def to_dicts(blocks: list[Block]) -> tuple[dict[str, Any], ...]:
    """Serialise (slack_sdk validates each block here) and check what it does not."""
    if len(blocks) > SLACK_BLOCKS:
        raise SlackLimitError(f"{len(blocks)} blocks > {SLACK_BLOCKS}")
    out = tuple(b.to_dict() for b in blocks)
    seen: set[str] = set()
    for aid in _action_ids(out):
        if aid in seen:
            raise SlackLimitError(f"action_id {aid!r} used twice in one message")
        seen.add(aid)
    return out


def _action_ids(blocks: tuple[dict[str, Any], ...]) -> list[str]:
    ids: list[str] = []
    for b in blocks:
        elements = list(b.get("elements", []))
        if "accessory" in b:
            elements.append(b["accessory"])
        ids += [e["action_id"] for e in elements if isinstance(e, dict) and "action_id" in e]
    return ids


def render_reply(reply: Reply) -> SlackMessage:
    return SlackMessage(text=fallback_text(reply), blocks=to_dicts(reply_blocks(reply)))


def render_notice(text: str) -> SlackMessage:
    """A plain message of ours (errors): one section, same fallback text."""
    return SlackMessage(text=truncate_utf16(text, SLACK_FALLBACK), blocks=to_dicts(_sections(text)))
