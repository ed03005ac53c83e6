"""What understanding produces and the dialogue engine consumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class IntentKind(StrEnum):
    COMMAND = "command"  # value: one of Command
    CHOICE = "choice"  # value: a choice value of the current node; node: node shown for (buttons)
    TOPIC = "topic"  # value: a topic id; date: a date said with it, if any
    AMBIGUOUS = "ambiguous"  # candidates: topic ids worth offering as buttons
    DATE = "date"  # date: a valid calendar date
    BAD_DATE = "bad_date"  # looked like a date but impossible or ambiguous
    START = "start"  # greeting / follow / bare slash command
    THANKS = "thanks"  # thanks / understood: acknowledge, keep the current question open
    NO_INPUT = "no_input"  # sticker, image, empty text
    FORGET = "forget"  # unfollow
    UNKNOWN = "unknown"


class Command(StrEnum):
    BACK = "back"  # 戻る
    RESTART = "restart"  # 最初から / メニュー
    END = "end"  # 終了 / やめる
    HELP = "help"  # ヘルプ


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    value: str = ""
    date: date | None = None
    node: str | None = None
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChoiceSpec:
    """A choice of the current node as understanding sees it: label, value and the other
    words that mean it (from the flow data)."""

    label: str
    value: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expectation:
    """What the current node is waiting for; lets understanding prefer the node's own
    choices and read a bare '6/20' as the date asked for."""

    node: str
    choices: tuple[ChoiceSpec, ...] = ()
    asks_date: bool = False
