"""The App Home tab: the menu's topics as buttons; a click starts that topic in the DM."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from adapters.slack.actions import HOME
from adapters.slack.render import MAX_HEADER, choice_buttons, clip, escape_mrkdwn, texts, to_dicts
from core.reply import TOPIC_PREFIX, Choice, Reply


def home_items(menu: Reply) -> list[tuple[str | None, Choice]]:
    """A topic button ('topic:<id>', see TurnRunner.menu(anywhere=True)) is sent with no
    node: the dialogue honours it whatever node the user's conversation is at, so a click
    always starts that topic. Any other menu choice stays tied to the menu node."""
    return [(None if c.value.startswith(TOPIC_PREFIX) else menu.node, c) for c in menu.choices]


def home_view(menu: Reply) -> dict[str, Any]:
    """The published home view, built from the menu a conversation starts with (given
    with its topic buttons usable anywhere)."""
    t = texts()
    items = home_items(menu)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(t["home_title"], MAX_HEADER))),
        SectionBlock(text=MarkdownTextObject(text=escape_mrkdwn(t["home_intro"]))),
        *choice_buttons(items, kind=HOME),
        ContextBlock(elements=[MarkdownTextObject(text=escape_mrkdwn(t["home_footer"]))]),
    ]
    return View(type="home", blocks=list(to_dicts(blocks))).to_dict()
