"""What the terminal shows and what a typed line means."""

from __future__ import annotations

from datetime import date

from adapters.text import render_json, render_plain, to_inbound
from core.inbound import ConversationKey, InboundKind
from core.reply import Card, Choice, DateQuestion, FactRow, Link, Reply

KEY = ConversationKey("cli", "-", "t")
MENU = Reply(
    node="menu",
    texts=("ご用件を選んでください。",),
    choices=(Choice("解約の手順", "cancel"), Choice("初期契約解除", "initial")),
)


def test_choices_are_numbered_in_order() -> None:
    text = render_plain(MENU)
    assert "  1. 解約の手順" in text
    assert "  2. 初期契約解除" in text
    assert text.index("ご用件") < text.index("1. 解約の手順")


def test_card_shows_rows_source_as_of_and_link() -> None:
    reply = Reply(
        node="x",
        card=Card(
            title="最低利用期間",
            rows=(FactRow("最短の解約日", "2026年11月30日(月)"),),
            link=Link("公式", "https://www.iijmio.jp/"),
            source="IIJmio公式 (R3)",
            as_of=date(2026, 11, 24),
        ),
    )
    text = render_plain(reply)
    assert "最短の解約日: 2026年11月30日(月)" in text
    assert "出典: IIJmio公式 (R3)" in text
    assert "2026年11月24日(火)時点" in text
    assert "https://www.iijmio.jp/" in text
    assert render_json(reply)["texts"] == [text]


def test_date_question_says_how_to_type_a_date() -> None:
    day = date(2026, 11, 24)
    reply = Reply(node="d", date_question=DateQuestion("利用開始日は？", day, day, day))
    assert "利用開始日は？" in render_plain(reply)
    assert "2026/6/20" in render_plain(reply)
    assert render_json(reply)["asks_date"] is True


def test_json_has_exactly_the_contract_keys() -> None:
    assert render_json(MENU) == {
        "node": "menu",
        "texts": ["ご用件を選んでください。"],
        "choices": [
            {"label": "解約の手順", "value": "cancel"},
            {"label": "初期契約解除", "value": "initial"},
        ],
        "asks_date": False,
    }


def test_number_label_or_full_width_number_picks_a_choice() -> None:
    for line in ("2", "２", "初期契約解除", " 初期契約解除 \n"):
        inbound = to_inbound(line, KEY, MENU)
        assert inbound.kind is InboundKind.CHOICE, line
        assert inbound.choice_value == "initial"
        assert inbound.choice_node == "menu"


def test_out_of_range_numbers_and_free_text_go_to_understanding() -> None:
    for line in ("3", "0", "初期契約解除したい", "6/20"):
        inbound = to_inbound(line, KEY, MENU)
        assert inbound.kind is InboundKind.TEXT
        assert inbound.text == line
    assert to_inbound("1", KEY, None).kind is InboundKind.TEXT
