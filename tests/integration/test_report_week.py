"""`iijmio-bot report` on a scripted week of conversations, figures worked out by hand.

The conversations go through the real runner on real Redis (a clock moved day by day);
feedback presses and a handoff are recorded the way the feedback/handoff code records
them (store.record). Then the command reads the stream like a team lead would run it."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime, timedelta

import pytest

from bots.cli import main
from core.clock import JST
from core.dialogue import default_dialogue
from core.events import Outcome, TurnEvent, conversation_hash, to_ms
from core.inbound import ConversationKey, Inbound, InboundKind
from core.store import RedisSessionStore
from core.turn import TurnRunner
from tests.clocks import MovingClock

SECRET = b"report-week-test-key"
MONDAY = datetime(2026, 6, 15, 9, 0, tzinfo=JST)


def user(name: str, platform: str = "line") -> ConversationKey:
    return ConversationKey(platform, "T1" if platform == "slack" else "-", f"U-{name}")


class Week:
    def __init__(self, store: RedisSessionStore) -> None:
        self.store = store
        self.clock = MovingClock(MONDAY)
        self.runner = TurnRunner(store, default_dialogue(), self.clock, hash_key=SECRET)

    def on(self, day: int, hour: int, minute: int = 0) -> None:
        self.clock.at = MONDAY.replace(hour=hour, minute=minute) + timedelta(days=day)

    async def say(self, key: ConversationKey, text: str) -> None:
        self.clock.at += timedelta(seconds=20)
        await self.runner.run(Inbound(key, InboundKind.TEXT, text=text))

    async def press(self, key: ConversationKey, value: str, node: str) -> None:
        self.clock.at += timedelta(seconds=20)
        await self.runner.run(
            Inbound(key, InboundKind.CHOICE, choice_value=value, choice_node=node)
        )

    async def mark(self, key: ConversationKey, outcome: Outcome, node: str) -> None:
        self.clock.at += timedelta(seconds=20)
        await self.store.record(
            key,
            TurnEvent(
                ts_ms=to_ms(self.clock.at),
                platform=key.platform,
                conv=conversation_hash(key, SECRET),
                node_before=node,
                node_after=node,
                outcome=outcome,
                input="choice",
                intent="choice",
            ),
        )


@pytest.fixture
def week(redis_url: str) -> str:
    # Synchronous, like the command it feeds: `report` runs its own event loop.
    asyncio.run(script_the_week(redis_url))
    return redis_url


async def script_the_week(redis_url: str) -> None:
    store = RedisSessionStore(redis_url, ttl=3600)
    w = Week(store)
    a, b, c, d = user("a"), user("b"), user("c", "slack"), user("d")
    e, f, g, h = user("e"), user("f", "cli"), user("g"), user("h")
    # Sunday before the period: not counted.
    w.on(-1, 12)
    await w.say(user("early"), "ぴよぴよ")
    # Mon: A asks about fees, gets the card, says it helped, ends. B is not understood once,
    # then gets the cancellation card.
    w.on(0, 10)
    await w.say(a, "違約金はかかる？")
    await w.press(a, "giga", "fees")
    await w.mark(a, Outcome.FEEDBACK_RESOLVED, "fees")
    await w.say(a, "終了")
    await w.say(b, "ぴよぴよ")
    await w.say(b, "解約したい")
    # Tue: C (Slack) asks about the weather and leaves at the menu. D gets the support card
    # and says it did not help.
    w.on(1, 11)
    await w.say(c, "明日の天気は？")
    await w.say(d, "問い合わせ先")
    await w.mark(d, Outcome.FEEDBACK_UNRESOLVED, "support")
    # Wed: E is not understood three times (half-width kana, a phone number) and leaves.
    w.on(2, 14)
    await w.say(e, "ﾋﾟﾖﾋﾟﾖ!!")
    await w.say(e, "０９０ー１１１１ー２２２２に電話ください")
    await w.say(e, "ポイントの残高を知りたい")
    # Thu: F (terminal chat) stops at the fee question. G is not understood and is handed
    # to a person.
    w.on(3, 9)
    await w.say(f, "違約金はかかる？")
    await w.say(g, "ピヨピヨ？")
    await w.mark(g, Outcome.HANDOFF, "menu")
    # Fri: A is back for a new conversation (the first one ended) and is helped.
    w.on(4, 20)
    await w.say(a, "解約したい")
    await w.mark(a, Outcome.FEEDBACK_RESOLVED, "cancel")
    # Sat: nobody. Sun: H, twice not understood, leaves.
    w.on(6, 23)
    await w.say(h, "090-3333-4444に電話ください")
    await w.say(h, "ポイントの残高を知りたい。")
    # The Monday after: outside the period.
    w.on(7, 0, 30)
    await w.say(user("late"), "解約したい")
    await store.close()


def report(capsys: pytest.CaptureFixture[str], url: str, *extra: str) -> str:
    code = main(
        ["report", "--redis", url, "--since", "2026-06-15", "--until", "2026-06-22", *extra]
    )
    out = capsys.readouterr().out
    assert code == 0
    return out


def test_week_figures_in_json(week: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(report(capsys, week, "--format", "json"))
    # Conversations: A (Mon), B, C, D, E, F, G, A (Fri), H.
    assert data["conversations"] == 9
    # Turns: A 4 (fee, giga, 解決した, 終了) + B 2 + C 1 + D 2 + E 3 + F 1 + G 2 + A 2 + H 2.
    assert data["turns"] == 19
    # Answer cards reached: A Mon, B, D, A Fri.
    assert data["answered_share"] == round(4 / 9, 4)
    # Typed 14 (A 2, B 2, C 1, D 1, E 3, F 1, G 1, A 1, H 2), not understood 7 (B1 E3 G1 H2).
    assert data["zero_hit_share"] == 0.5
    # Feedback: 解決した (A Mon, A Fri), 解決しない (D).
    assert data["feedback"] == 3
    assert data["self_resolved_share"] == round(2 / 3, 4)
    assert data["handoffs"] == 1
    assert data["topics"][:3] == [
        {"topic": "cancel", "count": 2, "label": "解約の手順"},
        {"topic": "fees", "count": 2, "label": "違約金・手数料"},
        {"topic": "support", "count": 1, "label": "問い合わせ先"},
    ]
    # Left without an answer or a person: C, E, H at the menu, F at the fee question.
    assert data["drop_off"] == [{"node": "menu", "count": 3}, {"node": "fees", "count": 1}]
    # Grouped across width, kana and punctuation; phone numbers masked in both widths.
    assert data["top_unmatched"] == [
        {"text": "ぴよぴよ", "count": 3},
        {"text": "<電話番号>に電話ください", "count": 2},
        {"text": "ポイントの残高を知りたい", "count": 2},
    ]
    assert [(d["day"], d["turns"], d["zero_hit_share"]) for d in data["daily"]] == [
        ("2026-06-15", 6, 0.25),
        ("2026-06-16", 3, 0.0),
        ("2026-06-17", 3, 1.0),
        ("2026-06-18", 3, 0.5),
        ("2026-06-19", 2, 0.0),
        ("2026-06-20", 0, None),
        ("2026-06-21", 2, 1.0),
    ]
    assert data["funnel"] == {"conversations": 9, "chose_topic": 5, "answered": 4, "resolved": 2}
    assert data["platforms"] == [
        {"platform": "line", "count": 17},
        {"platform": "slack", "count": 1},
        {"platform": "text", "count": 1},
    ]


def test_week_as_text_for_a_person(week: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = report(capsys, week)
    assert "2026年6月15日(月) 〜 2026年6月21日(日)" in out
    assert "0件ヒット率       50.0%（読み取れず 7/14 入力）" in out
    assert "自己解決率        66.7%（解決した 2/3 件）" in out
    assert "ぴよぴよ  3" in out
    assert "1111" not in out and "3333" not in out


def test_week_as_csv(week: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = list(csv.reader(io.StringIO(report(capsys, week, "--format", "csv"))))
    table = {(m, k): v for m, k, v in rows[1:]}
    assert table[("conversations", "")] == "9"
    assert table[("zero_hit_share", "")] == "0.5000"
    assert table[("drop_off", "menu")] == "3"
    assert table[("unmatched", "ぴよぴよ")] == "3"


def test_report_without_redis_says_how_to_give_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["report"]) == 1
    assert "--redis" in capsys.readouterr().err


def test_report_on_a_dead_redis_fails_fast(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--redis", "redis://127.0.0.1:1/0"]) == 2
    assert "does not answer" in capsys.readouterr().err
