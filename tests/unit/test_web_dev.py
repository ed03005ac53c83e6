"""The inspector's platform previews: the exact LINE and Slack JSON of a reply, re-read by
each SDK's models, with the limits a flow author broke marked."""

from __future__ import annotations

from datetime import date

from bots.web_dev import previews
from core.reply import Card, Choice, DateQuestion, FactRow, Reply

DAY = date(2026, 6, 15)


def test_a_sound_reply_is_valid_on_both_platforms_and_is_their_exact_json() -> None:
    reply = Reply(
        node="min_period_answer",
        texts=("ご案内します。",),
        card=Card("最低利用期間", rows=(FactRow("最短の解約日", "2026年6月30日(火)"),), as_of=DAY),
        choices=(Choice("メニューへ", "menu"),),
    )
    shown = previews(reply)
    assert shown["line"]["problems"] == [] and shown["slack"]["problems"] == []
    line = shown["line"]["json"]
    assert [m["type"] for m in line] == ["text", "flex"]
    assert line[-1]["quickReply"]["items"][0]["action"]["label"] == "メニューへ"
    assert shown["slack"]["json"]["blocks"][-1]["elements"][0]["text"]["text"] == "メニューへ"


def test_a_label_too_long_for_line_is_marked_as_cut() -> None:
    long = "とても長いボタンの名前でLINEでは切れてしまうもの"  # 26 characters
    reply = Reply(node="n", texts=("どれですか。",), choices=(Choice(long, "v"),))
    line = previews(reply)["line"]
    assert any(p.startswith("label cut to 20") for p in line["problems"])
    assert previews(reply)["slack"]["problems"] == []  # Slack allows 75


def test_more_choices_than_line_quick_replies_are_marked_as_paged() -> None:
    reply = Reply(
        node="n",
        texts=("どれですか。",),
        choices=tuple(Choice(f"項目{i}", f"v{i}") for i in range(15)),
        date_question=None,
    )
    assert any("pages them" in p for p in previews(reply)["line"]["problems"])


def test_a_date_question_becomes_each_platforms_own_picker() -> None:
    q = DateQuestion("利用開始日を教えてください。", DAY, date(2010, 1, 1), DAY)
    shown = previews(Reply(node="min_period", date_question=q))
    assert shown["line"]["json"][-1]["quickReply"]["items"][0]["action"]["type"] == (
        "datetimepicker"
    )
    blocks = shown["slack"]["json"]["blocks"]
    assert blocks[-1]["accessory"]["type"] == "datepicker"
