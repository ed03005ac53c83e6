"""Typed reminder requests and the events reminder turns leave, end to end on real Redis
through the real runner, dialogue and understanding (issue 10)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bots.cli import main
from core.clock import JST, FixedClock
from core.dialogue import default_dialogue
from core.events import REMINDER, Outcome, TurnEvent, conversation_hash
from core.inbound import ConversationKey, Inbound, InboundKind
from core.remind.book import RedisReminderBook
from core.remind.service import Reminders
from core.reply import Reply
from core.store import RedisSessionStore
from core.store.base import CommitStatus, session_key
from core.turn import TurnOutcome, TurnRunner

KEY = ConversationKey("line", "-", "Utyped0123456789abcdef")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=JST)
SECRET = b"typed-reminders-test-key"
CONFIRM = "11月26日(木) 9:00 と 11月27日(金) 9:00 にお知らせします。"
WHICH = "リマインドについてですね。どれにしますか。"
NOTHING_HERE = "いま表示している内容には、お知らせできる期限がありません。"


@pytest.fixture
def runner(store: RedisSessionStore) -> TurnRunner:
    return TurnRunner(
        store,
        default_dialogue(),
        FixedClock(NOW),
        hash_key=SECRET,
        reminders=Reminders(RedisReminderBook(store.client)),
    )


async def type_(runner: TurnRunner, text: str, key: ConversationKey = KEY) -> TurnOutcome:
    return await runner.run(Inbound(key, InboundKind.TEXT, text=text))


async def tap(runner: TurnRunner, value: str, key: ConversationKey = KEY) -> Reply:
    out = await runner.run(Inbound(key, InboundKind.CHOICE, choice_value=value, choice_node=""))
    assert out.reply is not None
    return out.reply


async def to_initial_card(runner: TurnRunner, key: ConversationKey = KEY) -> Reply:
    """The 初期契約解除 card for a SIM received on 11/20: last day 11/27."""
    await runner.run(Inbound(key, InboundKind.CHOICE, choice_value="topic:initial"))
    out = await runner.run(
        Inbound(key, InboundKind.DATE, date=date(2026, 11, 20), choice_node="initial")
    )
    assert out.reply is not None and out.reply.card is not None
    assert out.reply.choices[0].label == "リマインドする"
    return out.reply


def labels(reply: Reply) -> list[str]:
    return [c.label for c in reply.choices]


async def listed(store: RedisSessionStore, key: ConversationKey = KEY) -> int:
    return len(await RedisReminderBook(store.client).listed(key))


@pytest.mark.parametrize(
    "text",
    [
        "リマインドして",
        "りまいんどお願いします",
        "ﾘﾏｲﾝﾄﾞしてください",
        "リマインとして",
        "期限の前に教えて",
    ],
)
async def test_typed_under_a_card_schedules_what_its_button_would(
    runner: TurnRunner, store: RedisSessionStore, aredis: aioredis.Redis, text: str
) -> None:
    card = await to_initial_card(runner)
    before = await aredis.get(session_key(KEY))
    out = await type_(runner, text)
    assert out.aside and out.reply is not None
    assert out.reply.texts == (CONFIRM,)
    assert labels(out.reply) == ["リマインド一覧", "メニューへ"]
    assert await listed(store) == 2
    # The same as the button: another customer who taps it gets the same reply.
    other = ConversationKey("line", "-", "Ubutton")
    await to_initial_card(runner, other)
    assert await tap(runner, card.choices[0].value, other) == out.reply
    # Nothing was committed to the conversation: it goes on at the card.
    assert await aredis.get(session_key(KEY)) == before


async def test_typed_without_a_card_says_so_with_buttons_and_sets_nothing(
    runner: TurnRunner, store: RedisSessionStore
) -> None:
    out = await type_(runner, "リマインドお願いします")  # no conversation at all
    assert out.reply is not None and out.reply.texts[0].startswith(NOTHING_HERE)
    assert labels(out.reply) == ["メニューへ"]
    await type_(runner, "最低利用期間")  # a question, no card on screen
    out = await type_(runner, "リマインドして")
    assert out.reply is not None and out.reply.texts[0].startswith(NOTHING_HERE)
    assert await listed(store) == 0
    # With reminders set, their list is offered too.
    await to_initial_card(runner)
    await type_(runner, "リマインドして")
    await type_(runner, "メニュー")
    out = await type_(runner, "リマインドして")
    assert out.reply is not None and labels(out.reply) == ["リマインド一覧", "メニューへ"]


async def test_unsure_is_asked_with_buttons_that_work(
    runner: TurnRunner, store: RedisSessionStore
) -> None:
    card = await to_initial_card(runner)
    out = await type_(runner, "リマインド")
    assert out.reply is not None and out.reply.texts == (WHICH,)
    assert labels(out.reply) == ["リマインドする", "メニューへ"]  # nothing set yet to list
    assert out.reply.choices[0] == card.choices[0]
    assert (await tap(runner, out.reply.choices[0].value)).texts == (CONFIRM,)
    again = await type_(runner, "りまいんと")
    assert again.reply is not None
    assert labels(again.reply) == [
        "リマインドする",
        "リマインド一覧",
        "リマインド解除",
        "メニューへ",
    ]
    stopped = await tap(runner, again.reply.choices[2].value)
    assert stopped.texts == ("リマインドを2件解除しました。",)


async def test_list_and_cancel_typed_in_other_words(
    runner: TurnRunner, store: RedisSessionStore
) -> None:
    await to_initial_card(runner)
    await type_(runner, "リマインドして")
    shown = await type_(runner, "リマインド見せて")
    assert shown.reply is not None and "11月26日(木) 9:00" in shown.reply.texts[0]
    offered = await type_(runner, "通知いらない")  # the list: one tap cancels
    assert offered.reply is not None and "すべて解除" in labels(offered.reply)
    assert await listed(store) == 2
    gone = await type_(runner, "リマインドを止めてください")
    assert gone.reply is not None and gone.reply.texts == ("リマインドを2件解除しました。",)
    assert await listed(store) == 0


async def test_questions_about_something_else_go_to_the_dialogue(runner: TurnRunner) -> None:
    await to_initial_card(runner)
    for text, node in (("解約の通知は来ますか", "cancel"), ("MNPの期限を教えて", "mnp")):
        out = await type_(runner, text)
        assert not out.aside and out.reply is not None and out.reply.node.startswith(node)


async def test_while_a_person_has_the_conversation_typed_text_is_theirs(
    runner: TurnRunner, store: RedisSessionStore
) -> None:
    await to_initial_card(runner)
    loaded = await store.load(KEY)
    assert loaded.session is not None
    handed = replace(loaded.session, handoff_at=NOW.timestamp())
    assert await store.commit(KEY, handed, loaded.version) is CommitStatus.OK
    out = await type_(runner, "リマインドして")
    assert not out.aside and out.reply is None  # relayed to the person, not answered
    assert await listed(store) == 0


async def script_reminder_turns(redis_url: str) -> list[TurnEvent]:
    """A customer who sets, lists, asks about and cancels reminders under a card, and one
    who asks for a reminder with nothing on screen; the events they leave."""
    store = RedisSessionStore(redis_url, ttl=600)
    try:
        runner = TurnRunner(
            store,
            default_dialogue(),
            FixedClock(NOW),
            hash_key=SECRET,
            reminders=Reminders(RedisReminderBook(store.client)),
        )
        card = await to_initial_card(runner)
        await tap(runner, card.choices[0].value)  # scheduled (button)
        await type_(runner, "リマインド一覧")  # listed
        await type_(runner, "リマインド")  # unclear: asked which
        await type_(runner, "リマインドやめて")  # cancelled
        await type_(runner, "リマインドして", ConversationKey("slack", "T1", "Ulone"))
        return await store.read_events(0)
    finally:
        await store.close()


def test_reminder_turns_are_events_and_answered_in_the_report(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Synchronous, like the report command, which runs its own event loop.
    events = asyncio.run(script_reminder_turns(redis_url))
    reminder = [e for e in events if e.outcome in REMINDER]
    assert [e.outcome for e in reminder] == [
        Outcome.REMIND_SCHEDULED,
        Outcome.REMIND_LISTED,
        Outcome.REMIND_UNCLEAR,
        Outcome.REMIND_CANCELLED,
        Outcome.REMIND_UNCLEAR,
    ]
    mine = reminder[:4]
    assert {e.conv for e in mine} == {conversation_hash(KEY, SECRET)}
    # Beside the conversation: at the card before and after, its topic, no text kept.
    assert {(e.node_before, e.node_after, e.topic) for e in mine} == {
        ("initial_answer", "initial_answer", "initial")
    }
    assert [e.input for e in mine] == ["choice", "text", "text", "text"]
    assert not any(e.text or e.missed or e.unanswered for e in reminder)
    assert (reminder[-1].platform, reminder[-1].node_before) == ("slack", "")
    raw = json.dumps([e.to_fields() for e in events], ensure_ascii=False)
    assert "Utyped" not in raw and "Ulone" not in raw and "リマインド" not in raw

    argv = ["report", "--redis", redis_url, "--since", "2026-11-20", "--until", "2026-11-21"]
    assert main([*argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["reminders"] == {"scheduled": 1, "listed": 1, "cancelled": 1, "unclear": 2}
    # Two conversations, both answered (the lone one by its reminder answer); the typed
    # reminder turns are read, so 0件ヒット率 stays 0.
    assert (data["conversations"], data["answered_share"]) == (2, 1.0)
    assert data["zero_hit_share"] == 0.0 and data["top_unmatched"] == []
    assert data["drop_off"] == []
    assert main(argv) == 0
    line = "リマインド        設定 1 / 一覧 1 / 解除 1 / 聞き返し・期限なし 2"
    assert line in capsys.readouterr().out
    assert main([*argv, "--format", "csv"]) == 0
    assert "reminders,unclear,2" in capsys.readouterr().out
    page = tmp_path / "report.html"
    assert main([*argv, "--html", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    assert '<table id="reminders">' in html
    assert '<tr><td>設定</td><td class="n">1</td></tr>' in html


async def test_session_stays_within_1kb_with_reminders(
    runner: TurnRunner, store: RedisSessionStore, aredis: aioredis.Redis
) -> None:
    """Issue 10: reminders live in their own keys, so however many are set the session
    is what the conversation alone makes it, within 1 KB."""
    for key in (KEY, ConversationKey("slack", "T0123456789", "U0123456789AB")):
        for text in (
            "11月18日にSIMが届いたので初期契約解除したい",
            "リマインドして",
            "解約を取り消したい",
            "11月30日",
            "リマインドお願いします",
            "最低利用期間",
            "2026年10月1日",
        ):
            out = await type_(runner, text, key)
            assert out.reply is not None
        before = await aredis.get(session_key(key))
        shown = await type_(runner, "リマインド一覧", key)
        assert shown.reply is not None and len(shown.reply.choices) == 5  # 3 + all + menu
        raw = await aredis.get(session_key(key))
        assert raw is not None and len(raw) <= 1024
        assert raw == before  # a reminder turn adds nothing to the session
        assert b"remind" not in raw
