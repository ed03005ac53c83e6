"""Block Kit rendering: what Slack would accept, and what the user sees in it."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from adapters.slack import actions
from adapters.slack.home import home_view
from adapters.slack.parse import action_inbound, message_inbound, slash_inbound, strip_mentions
from adapters.slack.render import render_notice, render_reply, split_text, to_dicts
from core.clip import truncate_utf16, utf16_len
from core.inbound import InboundKind
from core.limits import SLACK_BLOCKS
from core.reply import Card, Choice, DateQuestion, FactRow, Link, Reply


def _all(blocks: tuple[dict[str, Any], ...], key: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for b in blocks:
        out += [e for e in b.get("elements", []) if isinstance(e, dict) and e.get("type") == key]
        acc = b.get("accessory")
        if isinstance(acc, dict) and acc.get("type") == key:
            out.append(acc)
    return out


def _revalidate(blocks: tuple[dict[str, Any], ...]) -> None:
    """Parse the dicts back into slack_sdk models: they validate on to_dict()."""
    for b in blocks:
        parsed = Block.parse(b)
        assert parsed is not None
        parsed.to_dict()


def test_answer_card_renders_header_fields_source_and_link() -> None:
    reply = Reply(
        node="min_period_answer",
        texts=("最低利用期間の終わりを計算しました。",),
        card=Card(
            title="最低利用期間",
            rows=(
                FactRow("利用開始日", "2026年6月20日(土)"),
                FactRow("最短の解約日", "2026年6月30日(火)"),
            ),
            link=Link("公式ページ", "https://www.iijmio.jp/"),
            source="IIJmio公式 (R3)",
            as_of=date(2026, 4, 1),
        ),
        choices=(Choice("メニューへ", "nav:menu"),),
    )
    msg = render_reply(reply)
    kinds = [b["type"] for b in msg.blocks]
    assert kinds[0] == "section" and "header" in kinds and "context" in kinds
    header = next(b for b in msg.blocks if b["type"] == "header")
    assert header["text"]["text"] == "最低利用期間"
    fields = next(b for b in msg.blocks if b.get("fields"))["fields"]
    assert any("最短の解約日" in f["text"] and "2026年6月30日" in f["text"] for f in fields)
    context = next(b for b in msg.blocks if b["type"] == "context")
    assert "2026年4月1日" in context["elements"][0]["text"]
    assert "時点で確認した情報" in context["elements"][0]["text"]
    links = [e for e in _all(msg.blocks, "button") if "url" in e]
    assert links == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "公式ページ"},
            "url": "https://www.iijmio.jp/",
            "action_id": "iijbot:link:0",
        }
    ]
    # The fallback text carries the answer too (notifications, screen readers).
    assert "2026年6月30日" in msg.text
    _revalidate(msg.blocks)


def test_date_question_has_a_datepicker_with_initial_date() -> None:
    q = DateQuestion(
        "利用開始日を選んでください。", date(2026, 6, 1), date(2020, 1, 1), date(2026, 6, 30)
    )
    msg = render_reply(Reply(node="ask_start", date_question=q))
    pickers = _all(msg.blocks, "datepicker")
    assert len(pickers) == 1
    assert pickers[0]["initial_date"] == "2026-06-01"
    assert actions.node_of_date_action(pickers[0]["action_id"]) == "ask_start"
    assert msg.text == "利用開始日を選んでください。"


def test_many_choices_split_into_actions_blocks_of_25_with_unique_ids() -> None:
    choices = tuple(Choice(f"選択肢{i}", f"v{i}") for i in range(60))
    msg = render_reply(Reply(node="n", texts=("どれにしますか。",), choices=choices))
    groups = [b for b in msg.blocks if b["type"] == "actions"]
    assert [len(g["elements"]) for g in groups] == [25, 25, 10]
    ids = [e["action_id"] for g in groups for e in g["elements"]]
    assert len(set(ids)) == 60
    # Every button maps back to its own choice and the node it was shown for.
    decoded = [actions.decode_choice(e["value"]) for g in groups for e in g["elements"]]
    assert [(d.node, d.value) for d in decoded if d] == [("n", f"v{i}") for i in range(60)]
    _revalidate(msg.blocks)


def test_long_labels_and_emoji_are_clipped_to_75_without_breaking_an_emoji() -> None:
    family = "👨\u200d👩\u200d👧"
    label = family * 40  # 200 code points, 320 UTF-16 units
    msg = render_reply(Reply(node="n", texts=("x",), choices=(Choice(label, "v"),)))
    text = _all(msg.blocks, "button")[0]["text"]["text"]
    assert utf16_len(text) <= 75
    assert text.endswith("…")
    body = text[:-1]
    assert body and len(body) % len(family) == 0 and body == family * (len(body) // len(family))
    _revalidate(msg.blocks)


def test_clip_keeps_short_text_and_skin_tones_whole() -> None:
    assert truncate_utf16("解約の手順", 75) == "解約の手順"
    thumbs = "👍🏽" * 30
    out = truncate_utf16(thumbs, 20)
    assert utf16_len(out) <= 20 and out[:-1] == "👍🏽" * (len(out[:-1]) // 2)


def test_a_flag_is_never_cut_in_half() -> None:
    # 🇯🇵 is two code points of two UTF-16 units each; a cut between them shows garbage.
    out = truncate_utf16("🇯🇵" * 30, 20)
    assert out == "🇯🇵" * 4 + "…"
    msg = render_reply(Reply(node="n", texts=("x",), choices=(Choice("🇯🇵" * 30, "v"),)))
    assert _all(msg.blocks, "button")[0]["text"]["text"] == "🇯🇵" * 18 + "…"


def test_long_text_is_split_into_sections_under_3000() -> None:
    long = "\n".join(f"{i}行目: 解約日の計算についての説明です。" for i in range(400))
    msg = render_reply(Reply(node="n", texts=(long,)))
    sections = [b for b in msg.blocks if b["type"] == "section"]
    assert len(sections) > 1
    assert all(utf16_len(s["text"]["text"]) <= 3000 for s in sections)
    # Nothing lost: the pieces join back into the text.
    assert "\n".join(s["text"]["text"] for s in sections) == long
    _revalidate(msg.blocks)


def test_one_line_longer_than_a_section_is_cut_hard() -> None:
    pieces = split_text("あ" * 7000)
    assert [len(p) for p in pieces] == [3000, 3000, 1000]


def test_mrkdwn_control_characters_are_escaped() -> None:
    msg = render_reply(Reply(node="n", texts=("<!channel> & <@U123>",)))
    assert msg.blocks[0]["text"]["text"] == "&lt;!channel&gt; &amp; &lt;@U123&gt;"


def test_more_than_50_blocks_is_refused() -> None:
    choices = tuple(Choice(f"c{i}", f"v{i}") for i in range(25 * SLACK_BLOCKS + 1))
    with pytest.raises(actions.SlackLimitError):
        render_reply(Reply(node="n", choices=choices))


def test_duplicate_action_ids_are_refused() -> None:
    from slack_sdk.models.blocks import ActionsBlock, ButtonElement

    b = ButtonElement(text="a", action_id="iijbot:choice:0", value="x")
    with pytest.raises(actions.SlackLimitError):
        to_dicts([ActionsBlock(elements=[b]), ActionsBlock(elements=[b])])


def test_oversized_button_value_is_refused() -> None:
    with pytest.raises(actions.SlackLimitError):
        actions.encode_choice("n", "v" * 2000)


def test_notice_always_has_fallback_text() -> None:
    msg = render_notice("ただいまお返事できません。")
    assert msg.text == "ただいまお返事できません。"
    assert msg.blocks[0]["type"] == "section"


def test_home_view_topic_buttons_start_that_topic_from_anywhere() -> None:
    # The menu as TurnRunner.menu(anywhere=True) gives it: topics as 'topic:<id>'.
    menu = Reply(
        node="menu", choices=(Choice("解約の手順", "topic:cancel"), Choice("ほかの項目", "more"))
    )
    view = home_view(menu)
    assert view["type"] == "home"
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    refs = [actions.decode_choice(b["value"]) for b in buttons]
    assert [(r.node, r.value) for r in refs if r] == [(None, "topic:cancel"), ("menu", "more")]


# ---- parsing what Slack sends --------------------------------------------------------------


def test_slash_command_alone_starts_and_with_text_goes_to_the_topic() -> None:
    base = {"team_id": "T1", "user_id": "U1", "trigger_id": "tr1"}
    start = slash_inbound({**base, "text": ""})
    assert start is not None and start.kind is InboundKind.START
    topic = slash_inbound({**base, "text": " 解約 "})
    assert topic is not None and topic.kind is InboundKind.TEXT and topic.text == "解約"
    assert topic.key.tag == "slack:T1:U1"


def test_action_round_trip_and_stable_delivery_id() -> None:
    value = actions.encode_choice("menu", "cancel")
    body = {
        "team": {"id": "T1"},
        "user": {"id": "U1"},
        "container": {"type": "message", "message_ts": "111.222"},
    }
    act = {"action_id": "iijbot:choice:0", "value": value, "action_ts": "333.444"}
    a, b = action_inbound(body, act), action_inbound(body, dict(act))
    assert a is not None and b is not None
    assert (a.kind, a.choice_node, a.choice_value) == (InboundKind.CHOICE, "menu", "cancel")
    assert a.event_id == b.event_id
    other = action_inbound(body, {**act, "action_ts": "333.999"})
    assert other is not None and other.event_id != a.event_id
    picked = action_inbound(body, {"action_id": "iijbot:date:ask", "selected_date": "2026-06-20"})
    assert picked is not None and picked.date == date(2026, 6, 20)
    assert action_inbound(body, {"action_id": "iijbot:link:0"}) is None


def test_bot_messages_and_subtypes_are_not_the_user() -> None:
    body = {"team_id": "T1", "event_id": "Ev1"}
    assert message_inbound(body, {"user": "U1", "text": "解約", "bot_id": "B1"}, None) is None
    edit = {"user": "U1", "text": "解約", "subtype": "message_changed"}
    assert message_inbound(body, edit, None) is None
    assert message_inbound(body, {"user": "UBOT", "text": "hi"}, "UBOT") is None
    got = message_inbound(body, {"user": "U1", "text": "<@UBOT> 解約したい"}, "UBOT")
    assert got is not None and got.text == "解約したい" and got.event_id == "Ev1"


def test_strip_mentions() -> None:
    assert strip_mentions("<@U0ABC|iijmio>  MNP  <@U0ABC>") == "MNP"


def test_value_encoding_is_json_with_node_and_value() -> None:
    raw = actions.encode_choice("n", "値")
    assert json.loads(raw) == {"n": "n", "v": "値"}
    assert actions.decode_choice("not json") is None
    assert actions.decode_choice(json.dumps({"n": 1, "v": "x"})) is None
