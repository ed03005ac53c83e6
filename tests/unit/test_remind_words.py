"""Typed reminder requests (core/remind/words.py): what customers type is understood as
schedule / list / cancel, or asked about, and nothing else is taken for one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dialogue import default_dialogue
from core.intent import Expectation, IntentKind
from core.nlu import understand
from core.remind.plan import SCHEDULE_PATH
from core.remind.words import Ask, load_words, parse_words, read

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    ("text", "ask"),
    [
        # Schedule: plain, polite, hiragana, half-width, typos, without the word itself.
        ("リマインドして", Ask.SCHEDULE),
        ("りまいんどお願いします", Ask.SCHEDULE),
        ("ﾘﾏｲﾝﾄﾞしてください", Ask.SCHEDULE),
        ("すみません、リマインドをお願いできますか？", Ask.SCHEDULE),
        ("リマインダー設定", Ask.SCHEDULE),
        ("リマインドする", Ask.SCHEDULE),  # the button's label, typed
        ("リマインとして", Ask.SCHEDULE),
        ("リマイントお願い", Ask.SCHEDULE),
        ("期限の前に教えて", Ask.SCHEDULE),
        ("忘れないように通知して", Ask.SCHEDULE),
        ("前日に連絡ください", Ask.SCHEDULE),
        ("お知らせしてほしいです", Ask.SCHEDULE),
        # List.
        ("リマインド一覧", Ask.LIST),
        ("リマインド見せて", Ask.LIST),
        ("ﾘﾏｲﾝﾄﾞ一覧", Ask.LIST),
        ("設定したリマインドを確認したい", Ask.LIST),
        ("リマインドを確認して消したい", Ask.LIST),  # the list has the cancel buttons
        # Cancel: the word with a stop, or the word taken back.
        ("リマインド解除", Ask.CANCEL),
        ("リマインドを止めて", Ask.CANCEL),
        ("りまいんどやめて", Ask.CANCEL),
        ("リマインドはいらないです", Ask.CANCEL),
        ("リマインドしないで", Ask.CANCEL),
        ("リマインダーを全部削除してください", Ask.CANCEL),
        # "No notifications" without the word: the list (its buttons cancel), not a
        # cancel of everything on a guess.
        ("通知いらない", Ask.LIST),
        # About reminders, but which is not said: asked.
        ("リマインド", Ask.UNSURE),
        ("リマインと", Ask.UNSURE),
        ("リマインドって何？", Ask.UNSURE),
        ("リマインドを止めないで", Ask.UNSURE),
        ("解除したい、リマインド", Ask.UNSURE),  # the action is read after the name
    ],
)
def test_typed_requests_are_understood(text: str, ask: Ask) -> None:
    assert read(text) is ask


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("解約の通知は来ますか", "cancel"),
        ("MNPの期限を教えて", "mnp"),
        ("解約の前に教えてほしいこと", "checklist"),
        ("初期契約解除したい", "initial"),
        ("解約したら通知くる？", "cancel"),
    ],
)
def test_questions_about_something_else_stay_with_the_dialogue(text: str, topic: str) -> None:
    assert read(text) is None
    intent = understand(text, Expectation(node="menu"), date(2026, 11, 24))
    assert intent.kind is IntentKind.TOPIC and intent.value == topic


@pytest.mark.parametrize("text", ["連絡先を教えてほしい", "通知が来ない", "マインドが大事", ""])
def test_neither_are_lookalikes(text: str) -> None:
    assert read(text) is None


def _messages() -> list[str]:
    out: list[str] = []
    for path in sorted(DATA.glob("nlu_*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out += [str(c["text"]) for c in data.get("cases", ()) if isinstance(c, dict)]
    return out


def test_no_message_of_the_nlu_tables_is_taken_for_a_reminder() -> None:
    # ~950 messages customers send about everything else: none may be answered as a
    # reminder instead of by the dialogue.
    messages = _messages()
    assert len(messages) > 900
    assert [(t, read(t)) for t in messages if read(t) is not None] == []


def test_no_button_label_of_the_flow_is_taken_for_a_reminder() -> None:
    flow = default_dialogue().flow
    labels = {c.label for n in flow.nodes.values() for c in n.choices}
    labels |= {s for n in flow.nodes.values() for c in n.choices for s in c.synonyms}
    assert [t for t in sorted(labels) if read(t) is not None] == []


def test_the_words_are_data() -> None:
    words = load_words()
    assert "りまいんど" in words.names  # compared in core.nlu's form
    with pytest.raises(ValueError, match=r"words\.cancel"):
        parse_words({k: ["x"] for k in ("names", "notify", "tell", "when", "list", "schedule")})
    # A word added to the data is understood: no code lists phrasings.
    raw = yaml.safe_load(SCHEDULE_PATH.read_text(encoding="utf-8"))["words"]
    raw["cancel"] = [*raw["cancel"], "もう結構"]
    raw["names"] = [*raw["names"], "お知らせ予約"]
    assert read("お知らせ予約はもう結構", parse_words(raw)) is Ask.CANCEL


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=80)
    | st.text(alphabet="リマインドりまいんど通知教えて前にしてを止め一覧は、 ", max_size=30)
)
def test_reading_never_raises(text: str) -> None:
    assert read(text) in (None, *Ask)
