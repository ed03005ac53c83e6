"""A terminal line → Inbound. A number or an exact label picks a choice of the last reply;
everything else is free text for understanding (which also reads dates and typos)."""

from __future__ import annotations

import unicodedata

from core.inbound import ConversationKey, Inbound, InboundKind
from core.reply import Reply


def to_inbound(line: str, key: ConversationKey, last: Reply | None) -> Inbound:
    text = line.rstrip("\r\n")
    if last is not None and last.choices:
        picked = _pick(unicodedata.normalize("NFKC", text).strip(), last)
        if picked is not None:
            return Inbound(
                key, InboundKind.CHOICE, text=text, choice_value=picked, choice_node=last.node
            )
    return Inbound(key, InboundKind.TEXT, text=text)


def _pick(text: str, last: Reply) -> str | None:
    if text.isdecimal():
        index = int(text)
        if 1 <= index <= len(last.choices):
            return last.choices[index - 1].value
        return None
    for choice in last.choices:
        if text == unicodedata.normalize("NFKC", choice.label).strip():
            return choice.value
    return None
