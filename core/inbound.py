"""What an adapter hands the core: one platform-neutral incoming message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


@dataclass(frozen=True)
class ConversationKey:
    platform: str  # "line", "slack", "cli"
    workspace: str  # Slack team id, LINE group/room id or "-" for 1:1
    user: str

    @property
    def tag(self) -> str:
        """The Redis Cluster hash tag body: every key of one conversation shares it."""
        return f"{self.platform}:{self.workspace}:{self.user}"


class InboundKind(StrEnum):
    TEXT = "text"  # free text typed by the user
    CHOICE = "choice"  # a button / quick reply / postback: choice_value (+ choice_node)
    DATE = "date"  # a native date picker: date (+ choice_node)
    START = "start"  # follow, /iijmio with no text, App Home open: greet + menu
    NO_INPUT = "no_input"  # sticker, image, audio ...: counts as no input
    FORGET = "forget"  # unfollow: drop the session silently


@dataclass(frozen=True)
class Inbound:
    key: ConversationKey
    kind: InboundKind
    text: str = ""
    choice_value: str | None = None
    # The node the button or date picker was rendered for (stale detection); None when
    # the input is valid at any node (typed text, App Home topics).
    choice_node: str | None = None
    date: date | None = None
    event_id: str | None = None  # platform delivery id, for dedupe
