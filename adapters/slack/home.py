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
from adapters.slack.render import choice_buttons, escape_mrkdwn, to_dicts
from adapters.slack.texts import say
from core.clip import truncate_utf16
from core.limits import SLACK_HEADER
from core.reply import TOPIC_PREFIX, Choice, Reply


def home_items(menu: Reply) -> list[tuple[str | None, Choice]]:
    """A topic button ('topic:<id>', see TurnRunner.menu(anywhere=True)) is sent with no
    node: the dialogue honours it whatever node the user's conversation is at, so a click
    always starts that topic. Any other menu choice stays tied to the menu node."""
    return [(None if c.value.startswith(TOPIC_PREFIX) else menu.node, c) for c in menu.choices]


def home_view(menu: Reply) -> dict[str, Any]:
    """The published home view, built from the menu a conversation starts with (given
    with its topic buttons usable anywhere)."""
    items = home_items(menu)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate_utf16(say("home_title"), SLACK_HEADER))),
        SectionBlock(text=MarkdownTextObject(text=escape_mrkdwn(say("home_intro")))),
        *choice_buttons(items, kind=HOME),
        ContextBlock(elements=[MarkdownTextObject(text=escape_mrkdwn(say("home_footer")))]),
    ]
    return View(type="home", blocks=list(to_dicts(blocks))).to_dict()
