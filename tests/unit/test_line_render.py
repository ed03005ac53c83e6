"""LINE rendering: every limit LINE enforces server-side but the SDK does not."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.line import postback
from adapters.line.parse import parse_event, strip_spans
from adapters.line.render import render_choice_page, render_reply
from core.clip import graphemes, truncate_graphemes, truncate_utf16, utf16_len
from core.inbound import InboundKind
from core.limits import (
    LINE_ALT_TEXT,
    LINE_BUBBLE_BYTES,
    LINE_LABEL,
    LINE_TEXT_UTF16,
    MAX_CARD_NOTES,
    MAX_CARD_ROWS,
    MAX_CARD_STEPS,
    MAX_LABEL,
    MAX_NOTE,
    MAX_ROW_VALUE,
    MAX_TITLE,
)
from core.reply import Card, Choice, DateQuestion, FactRow, Link, Reply

FAMILY = "👨\u200d👩\u200d👧"  # one grapheme, five code points, eight UTF-16 units
FLAG_JP = "🇯🇵"
SMILE = "😊"
GA = "か\u3099"  # か + combining dakuten


def _dicts(reply: Reply) -> list[dict[str, Any]]:
    return render_reply(reply)


def _labels(msg: dict[str, Any]) -> list[str]:
    return [i["action"]["label"] for i in msg.get("quickReply", {}).get("items", [])]


def _no_lone_surrogates(s: str) -> bool:
    s.encode("utf-8")  # raises on a lone surrogate
    return True


# --- graphemes and truncation -----------------------------------------------------------


def test_graphemes_keep_emoji_sequences_whole() -> None:
    text = f"a{FAMILY}{FLAG_JP}{SMILE}{GA}👍🏽1\ufe0f\u20e3"
    assert graphemes(text) == ["a", FAMILY, FLAG_JP, SMILE, GA, "👍🏽", "1\ufe0f\u20e3"]


def test_truncate_graphemes_never_splits_a_cluster() -> None:
    label = FAMILY * 25
    cut = truncate_graphemes(label, LINE_LABEL)
    assert len(graphemes(cut)) == LINE_LABEL
    assert cut.endswith("…")
    assert cut[:-1] == FAMILY * (LINE_LABEL - 1)


def test_truncate_utf16_on_surrogate_boundary() -> None:
    # 2501 smiles = 5002 UTF-16 units; the cut must not leave half a surrogate pair.
    text = SMILE * 2501
    cut = truncate_utf16(text, LINE_TEXT_UTF16)
    assert utf16_len(cut) <= LINE_TEXT_UTF16
    assert cut.endswith("…")
    assert set(cut[:-1]) == {SMILE}
    assert _no_lone_surrogates(cut)


def test_text_that_fits_is_untouched() -> None:
    text = "あ" * LINE_TEXT_UTF16
    assert truncate_utf16(text, LINE_TEXT_UTF16) == text


@given(st.text(min_size=0, max_size=300), st.integers(min_value=1, max_value=40))
def test_truncations_hold_their_limits(text: str, limit: int) -> None:
    g = truncate_graphemes(text, limit)
    assert len(graphemes(g)) <= limit
    u = truncate_utf16(text, max(limit, 2))
    assert utf16_len(u) <= max(limit, 2)
    assert text.startswith(g.removesuffix("…")) and text.startswith(u.removesuffix("…"))


# --- messages ---------------------------------------------------------------------------


def test_long_emoji_text_is_cut_to_5000_utf16_units() -> None:
    reply = Reply(node="n", texts=("解約したい" + SMILE * 3000,))
    (msg,) = _dicts(reply)
    assert utf16_len(msg["text"]) <= LINE_TEXT_UTF16
    assert _no_lone_surrogates(msg["text"])


def test_long_labels_are_cut_to_20_graphemes_without_breaking_emoji() -> None:
    reply = Reply(
        node="menu",
        texts=("どれにしますか？",),
        choices=(Choice(label=FAMILY * 30, value="fam"), Choice(label="解約" * 15, value="c")),
    )
    (msg,) = _dicts(reply)
    labels = _labels(msg)
    assert all(len(graphemes(lbl)) <= LINE_LABEL for lbl in labels)
    assert labels[0].removesuffix("…") == FAMILY * (LINE_LABEL - 1)


def test_card_is_a_flex_bubble_with_facts_link_and_as_of() -> None:
    card = Card(
        title="初期契約解除の期限",
        rows=(
            FactRow("書面の受け取り", "2026年6月20日(土)"),
            FactRow("最終日", "2026年6月27日(土)"),
        ),
        steps=("公式ページで申し込む", "届いた書類を返送する"),
        notes=("手続きはお早めにどうぞ。",),
        link=Link("初期契約解除のページ", "https://www.iijmio.jp/service/setup/hdd/terminate/"),
        source="電気通信事業法・IIJmio",
        as_of=date(2026, 4, 1),
    )
    (msg,) = _dicts(Reply(node="initial_done", card=card))
    assert msg["type"] == "flex"
    dumped = json.dumps(msg["contents"], ensure_ascii=False)
    for needle in (
        "初期契約解除の期限",
        "2026年6月27日(土)",
        "届いた書類を返送する",
        "2026年4月1日",
    ):
        assert needle in dumped
    footer = msg["contents"]["footer"]["contents"]
    assert footer[0]["action"] == {
        "type": "uri",
        "label": "初期契約解除のページ",
        "uri": "https://www.iijmio.jp/service/setup/hdd/terminate/",
    }
    assert "最終日" in msg["altText"] and len(msg["altText"]) <= LINE_ALT_TEXT


def test_the_longest_card_a_reply_may_hold_fits_one_flex_bubble() -> None:
    """LINE refuses a bubble of over 30 KB: core's card limits keep every card inside it."""
    card = Card(
        title="題" * MAX_TITLE,
        rows=tuple(FactRow("項" * MAX_TITLE, "値" * MAX_ROW_VALUE) for _ in range(MAX_CARD_ROWS)),
        steps=("手" * MAX_NOTE,) * MAX_CARD_STEPS,
        notes=("注" * MAX_NOTE,) * MAX_CARD_NOTES,
        link=Link("公" * MAX_LABEL, "https://www.iijmio.jp/"),
        source="IIJmio会員規約・公式ヘルプ (R1, R2, R3)",
        as_of=date(2026, 4, 1),
    )
    reply = Reply(node="n", card=card)
    reply.validate()
    (msg,) = _dicts(reply)
    assert len(json.dumps(msg["contents"], ensure_ascii=False).encode()) <= LINE_BUBBLE_BYTES


def test_alt_text_is_capped_at_1500() -> None:
    card = Card(
        title="長いカード",
        rows=tuple(FactRow(f"項目{i}", SMILE * 290) for i in range(10)),
    )
    (msg,) = _dicts(Reply(node="n", card=card))
    assert utf16_len(msg["altText"]) <= LINE_ALT_TEXT
    assert _no_lone_surrogates(msg["altText"])


def test_quick_replies_ride_on_the_last_message_only() -> None:
    reply = Reply(
        node="cancel_ask",
        texts=("ひとつめ", "ふたつめ"),
        card=Card(title="解約日", rows=(FactRow("解約日", "月末"),)),
        choices=(Choice("はい", "yes"), Choice("いいえ", "no")),
    )
    msgs = _dicts(reply)
    assert [m["type"] for m in msgs] == ["text", "text", "flex"]
    assert "quickReply" not in msgs[0] and "quickReply" not in msgs[1]
    assert _labels(msgs[-1]) == ["はい", "いいえ"]
    data = [i["action"]["data"] for i in msgs[-1]["quickReply"]["items"]]
    assert [postback.decode(d) for d in data] == [
        postback.Postback(node="cancel_ask", value="yes"),
        postback.Postback(node="cancel_ask", value="no"),
    ]


def test_more_than_13_choices_page_with_a_more_item_and_cycle_back() -> None:
    choices = tuple(Choice(f"項目{i}", f"v{i}") for i in range(24))
    (first,) = _dicts(Reply(node="menu", texts=("メニューです。",), choices=choices))
    labels = _labels(first)
    assert len(labels) == 13 and labels[-1] == "ほかの項目"
    assert labels[:12] == [f"項目{i}" for i in range(12)]
    more = postback.decode(first["quickReply"]["items"][-1]["action"]["data"])
    assert more.node == "menu" and more.page == 12

    (second,) = list(render_choice_page("menu", choices, more.page or 0))
    labels2 = _labels(second)
    assert labels2[:-1] == [f"項目{i}" for i in range(12, 24)]
    back = postback.decode(second["quickReply"]["items"][-1]["action"]["data"])
    assert back.page == 0  # the last page leads back to the first
    seen = set(labels[:-1]) | set(labels2[:-1])
    assert seen == {c.label for c in choices}


def test_date_question_offers_a_picker_within_its_bounds_and_a_typing_hint() -> None:
    q = DateQuestion(
        prompt="契約書面を受け取った日を教えてください。",
        initial=date(2026, 6, 20),
        min=date(2026, 5, 1),
        max=date(2026, 6, 20),
    )
    (msg,) = _dicts(
        Reply(node="initial_receipt", date_question=q, choices=(Choice("戻る", "back"),))
    )
    assert msg["text"].startswith("契約書面を受け取った日")
    assert "2026/6/20" in msg["text"]  # tells the user they may type the date
    picker = msg["quickReply"]["items"][0]["action"]
    assert picker["type"] == "datetimepicker" and picker["mode"] == "date"
    assert (picker["initial"], picker["min"], picker["max"]) == (
        "2026-06-20",
        "2026-05-01",
        "2026-06-20",
    )
    assert postback.decode(picker["data"]) == postback.Postback(node="initial_receipt", date=True)


def test_date_page_holds_one_choice_less_but_paging_loses_none() -> None:
    q = DateQuestion("いつですか？", date(2026, 6, 1), date(2026, 1, 1), date(2026, 12, 31))
    choices = tuple(Choice(f"c{i}", f"v{i}") for i in range(20))
    (msg,) = _dicts(Reply(node="n", date_question=q, choices=choices))
    items = msg["quickReply"]["items"]
    assert len(items) == 13
    more = postback.decode(items[-1]["action"]["data"])
    assert more.page == 11
    (nxt,) = list(render_choice_page("n", choices, more.page or 0))
    assert _labels(nxt)[0] == "c11"


def test_choices_alone_still_get_a_message_to_ride_on() -> None:
    (msg,) = _dicts(Reply(node="n", choices=(Choice("はい", "yes"),)))
    assert msg["type"] == "text" and msg["text"].strip()
    assert _labels(msg) == ["はい"]


# --- postback data ----------------------------------------------------------------------


def test_postback_round_trips_and_stays_within_300() -> None:
    for value in ("yes", "解約" * 100, "a&b=c%d", SMILE * 150):
        pb = postback.Postback(node="some_node", value=value)
        data = postback.encode(pb)
        assert len(data) <= 300
        assert postback.decode(data) == pb


def test_postback_that_cannot_fit_is_refused_not_truncated() -> None:
    with pytest.raises(postback.PostbackTooLong):
        postback.encode(postback.Postback(node="n", value="x" * 400))


def test_foreign_postback_data_decodes_to_nothing_actionable() -> None:
    assert postback.decode("hello world").value is None
    assert postback.decode("{not json").value is None


# --- parsing ----------------------------------------------------------------------------


def _text_event(
    text: str, source: dict[str, Any], mention: dict[str, Any] | None = None
) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "text", "id": "1", "text": text}
    if mention is not None:
        msg["mention"] = mention
    return {
        "type": "message",
        "mode": "active",
        "timestamp": 0,
        "webhookEventId": "01EVT",
        "deliveryContext": {"isRedelivery": False},
        "replyToken": "rt",
        "source": source,
        "message": msg,
    }


def test_text_without_quote_token_is_read() -> None:
    ev = parse_event(_text_event("解約したい😊", {"type": "user", "userId": "U1"}))
    assert ev is not None and ev.inbound is not None
    assert ev.inbound.kind is InboundKind.TEXT and ev.inbound.text == "解約したい😊"
    assert ev.inbound.key.workspace == "-" and ev.inbound.event_id == "01EVT"


def test_group_mention_is_stripped_by_utf16_offsets() -> None:
    text = f"{SMILE}@IIJボット 解約したい"
    # the mention starts after one emoji: index 2 in UTF-16 units, 1 in code points
    mention = {"mentionees": [{"index": 2, "length": 7, "type": "user", "isSelf": True}]}
    src = {"type": "group", "groupId": "G1", "userId": "U1"}
    ev = parse_event(_text_event(text, src, mention))
    assert ev is not None and ev.inbound is not None
    assert ev.inbound.text == f"{SMILE} 解約したい".strip()
    assert ev.inbound.key.workspace == "G1" and ev.push_to == "G1"


def test_group_all_mention_is_not_addressed_to_the_bot() -> None:
    mention = {"mentionees": [{"index": 0, "length": 4, "type": "all"}]}
    src = {"type": "room", "roomId": "R1", "userId": "U1"}
    assert parse_event(_text_event("@All 解約", src, mention)) is None


def test_strip_spans_falls_back_to_code_points() -> None:
    assert strip_spans(f"{SMILE}@bot hi", [(1, 4)]) == f"{SMILE} hi"
