"""What understanding produces and the dialogue engine consumes."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class IntentKind(StrEnum):
    COMMAND = "command"  # value: one of Command
    CHOICE = "choice"  # value: a choice value of the current node; node: node shown for (buttons)
    TOPIC = "topic"  # value: a topic id; date: a date said with it, if any
    AMBIGUOUS = "ambiguous"  # candidates: topic ids worth offering as buttons
    OFF_TOPIC = "off_topic"  # about something the bot does not handle (weather, APN, top-up)
    DATE = "date"  # date: a valid calendar date
    BAD_DATE = "bad_date"  # looked like a date but impossible or ambiguous
    VAGUE_DATE = "vague_date"  # date_candidates: a rough date ("2週間くらい前"); offer these
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
    ERASE = "erase"  # データを削除 / 履歴を消して: session, reminders and events are deleted
    HANDOFF = "handoff"  # オペレーターと話したい: hand the conversation to a person
    BOT = "bot"  # ボットに戻る: end a handoff, the bot answers again


class DateRole(StrEnum):
    """What a date in a message is the date *of*, from the words around it."""

    START = "start"  # 利用開始日: 使い始めた・契約した・開通した
    RECEIPT = "receipt"  # 書面受領日: 届いた・受け取った
    CANCEL = "cancel"  # 解約日・申込日: 解約した・申し込んだ
    NONE = "none"  # no role word near it: fills only a question that asks for a bare date


@dataclass(frozen=True)
class DateFact:
    role: DateRole
    date: date | None = None  # exact, when the message pins it down
    candidates: tuple[_dt.date, ...] = ()  # vague ("2週間くらい前"): the dates worth offering
    said: str = ""  # the words it came from, as the customer wrote them


@dataclass(frozen=True)
class Facts:
    """Everything a message states that a later question would otherwise ask for.

    Values are the flow's own choice values where the flow has a choice for them, so the
    engine can fill a slot without translating."""

    plan: str | None = None  # giga | mio | old
    sim: str | None = None  # voice | data | sms | esim
    keep_number: bool | None = None  # 番号そのまま (True) / 番号はいらない (False)
    carrier: str | None = None  # destination carrier, normalised name (docomo, au, ...)
    option: str | None = None  # option named (通話定額, かけ放題, ...)
    amount_yen: int | None = None  # a typed amount (1,078円, 千円くらい)
    dates: tuple[DateFact, ...] = ()

    def any(self) -> bool:
        return self != Facts()


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    value: str = ""
    date: date | None = None
    node: str | None = None
    candidates: tuple[str, ...] = ()
    date_candidates: tuple[_dt.date, ...] = ()  # VAGUE_DATE
    facts: Facts = Facts()


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
