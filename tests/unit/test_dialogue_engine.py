"""The engine driven by intents built by hand (no understanding in between)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from core.clock import JST
from core.dialogue import default_dialogue
from core.dialogue.engine import FlowDialogue
from core.dialogue.model import NodeKind
from core.intent import Command, Intent, IntentKind
from core.reply import Reply
from core.session import MAX_HISTORY, Frame, Session

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=JST)
# One answer for every slot the flow asks, so any node can be shown.
ANSWERS = {
    "start_date": "2026-11-10",
    "received_date": "2026-11-20",
    "mnp_issued_date": "2026-11-20",
    "cancel_day": "2026-11-30",
    "voice_end": "2026-11-30",
    "plan": "old",
    "sim": "voice",
    "mnp": "no",
    "monthly_fee": "990",
}


@pytest.fixture
def dialogue() -> FlowDialogue:
    return default_dialogue()


def at(dialogue: FlowDialogue, node: str, **kw: object) -> Session:
    s = Session(node=node, flow_version=dialogue.flow_version)
    return replace(s, **kw) if kw else s  # type: ignore[arg-type]


def cmd(c: Command) -> Intent:
    return Intent(IntentKind.COMMAND, c.value)


def all_texts(reply: Reply) -> str:
    return "\n".join(reply.readable_texts())


def test_every_node_shown_and_asked_validates(dialogue: FlowDialogue) -> None:
    answers = tuple(sorted(ANSWERS.items()))
    for nid, node in dialogue.flow.nodes.items():
        if node.kind in (NodeKind.SWITCH, NodeKind.HANDOFF):
            continue  # never a resting place
        # 戻る into the node shows it in full (its card for answers).
        s = at(dialogue, "menu", history=(Frame(nid, answers),))
        s2, shown = dialogue.step(s, cmd(Command.BACK), NOW)
        shown.validate()
        assert s2 is not None and s2.node == nid and shown.node == nid
        if node.kind is NodeKind.ANSWER:
            assert shown.card is not None and shown.card.link is not None
            if node.rules:
                assert shown.card.source and shown.card.as_of == date(2026, 11, 24)
            assert len(shown.card.rows) <= 6 and len(shown.card.steps) <= 6
        # ヘルプ asks it again without moving.
        s3, asked = dialogue.step(s2, cmd(Command.HELP), NOW)
        asked.validate()
        assert s3 == s2
        assert asked.asks_date == (node.kind is NodeKind.DATE)


def test_expectation_lists_the_nodes_choices_with_synonyms(dialogue: FlowDialogue) -> None:
    exp = dialogue.expectation(at(dialogue, "end_date"))
    assert exp.node == "end_date" and not exp.asks_date
    yes = next(c for c in exp.choices if c.value == "mnp_yes")
    assert "はい" in yes.synonyms
    assert dialogue.expectation(at(dialogue, "withdraw")).asks_date
    assert dialogue.expectation(None).node == dialogue.flow.start


def test_choice_moves_and_remembers_the_answer(dialogue: FlowDialogue) -> None:
    s, _reply = dialogue.step(at(dialogue, "fees"), Intent(IntentKind.CHOICE, "old"), NOW)
    assert s is not None and s.node == "fees_sim" and s.answer("plan") == "old"
    assert s.history[-1] == Frame("fees", ())


def test_stale_button_changes_nothing(dialogue: FlowDialogue) -> None:
    before = at(dialogue, "fees_sim", answers=(("plan", "old"),))
    stale = Intent(IntentKind.CHOICE, "giga", node="fees")
    after, reply = dialogue.step(before, stale, NOW)
    assert after == before
    assert "受付を終了しました" in all_texts(reply)
    assert [c.value for c in reply.choices] == ["voice", "data"]


def test_stale_date_picker_changes_nothing(dialogue: FlowDialogue) -> None:
    # The start-date picker tapped while the end date is asked: not an end date.
    before = at(
        dialogue,
        "fees_end",
        answers=(("plan", "old"), ("sim", "voice"), ("start_date", "2026-01-10")),
    )
    stale = Intent(IntentKind.DATE, date=date(2026, 3, 1), node="fees_start")
    after, reply = dialogue.step(before, stale, NOW)
    assert after == before
    assert "受付を終了しました" in all_texts(reply)
    assert reply.date_question is not None  # the end date is asked again


def test_date_picker_of_the_current_question_is_taken(dialogue: FlowDialogue) -> None:
    before = at(
        dialogue,
        "fees_end",
        answers=(("plan", "old"), ("sim", "voice"), ("start_date", "2026-01-10")),
    )
    picked = Intent(IntentKind.DATE, date=date(2026, 3, 1), node="fees_end")
    after, _ = dialogue.step(before, picked, NOW)
    assert after is not None and after.answer("voice_end") == "2026-03-01"


def test_unknown_choice_value_is_a_slip(dialogue: FlowDialogue) -> None:
    s, _reply = dialogue.step(at(dialogue, "fees"), Intent(IntentKind.CHOICE, "platinum"), NOW)
    assert s is not None and s.node == "fees" and s.no_match == 1


def test_no_match_counter_resets_after_a_good_answer(dialogue: FlowDialogue) -> None:
    s: Session | None = at(dialogue, "fees")
    for n in (1, 2, 3, 4):
        s, reply = dialogue.step(s, Intent(IntentKind.NO_INPUT), NOW)
        assert s is not None and s.no_match == n
    assert "0570-09-4400" in all_texts(reply)
    s, _ = dialogue.step(s, Intent(IntentKind.CHOICE, "giga"), NOW)
    assert s is not None and s.no_match == 0


def test_menu_button_offered_when_stuck_works(dialogue: FlowDialogue) -> None:
    s = at(dialogue, "fees", no_match=2)
    s, reply = dialogue.step(s, Intent(IntentKind.UNKNOWN), NOW)
    menu = next(c for c in reply.choices if c.label == "メニューへ")
    s, reply = dialogue.step(s, Intent(IntentKind.CHOICE, menu.value, node="fees"), NOW)
    assert s is not None and s.node == "menu"


def test_stuck_on_a_card_that_has_a_menu_button_gets_no_second_one(
    dialogue: FlowDialogue,
) -> None:
    # 解約したい, then three messages not understood: the card already offers メニューへ.
    # (Issue 9: the third typed one asks for a person; the runner adds how.)
    _, reply = dialogue.step(at(dialogue, "cancel", no_match=2), Intent(IntentKind.UNKNOWN), NOW)
    assert reply.handoff == "not_understood"
    assert [c.label for c in reply.choices].count("メニューへ") == 1


def test_menu_anywhere_gives_topic_buttons_that_work_at_any_node(
    dialogue: FlowDialogue,
) -> None:
    plain = dialogue.menu(NOW)
    anywhere = dialogue.menu(NOW, anywhere=True)
    assert [c.label for c in anywhere.choices] == [c.label for c in plain.choices]
    cancel = next(c for c in anywhere.choices if c.label == "解約の手順")
    assert cancel.value == "topic:cancel"
    assert next(c for c in anywhere.choices if c.label == "ほかの項目").value == "more"
    # Pressed deep in another question, it still opens that topic.
    s, _ = dialogue.step(at(dialogue, "fees_sim"), Intent(IntentKind.CHOICE, cancel.value), NOW)
    assert s is not None and s.node == "cancel"


def test_pending_asks_the_waiting_question_again_without_a_card(dialogue: FlowDialogue) -> None:
    reply = dialogue.pending(at(dialogue, "fees_end", answers=(("start_date", "2026-01-10"),)), NOW)
    assert reply.node == "fees_end" and reply.date_question is not None
    gone = dialogue.pending(at(dialogue, "removed_node"), NOW)
    assert gone.node == "menu" and gone.choices


def test_topic_keeps_answers_and_skips_known_questions(dialogue: FlowDialogue) -> None:
    s = at(dialogue, "menu", answers=(("start_date", "2026-11-10"),))
    s2, reply = dialogue.step(s, Intent(IntentKind.TOPIC, "min_period"), NOW)
    assert s2 is not None and s2.node == "min_period_answer"
    assert s2.answers == s.answers
    assert "2026年11月30日(月)" in all_texts(reply)


def test_restart_forgets_answers_back_restores_them(dialogue: FlowDialogue) -> None:
    s = at(dialogue, "fees_sim", answers=(("plan", "old"),), history=(Frame("fees", ()),))
    restarted, _reply = dialogue.step(s, cmd(Command.RESTART), NOW)
    assert restarted is not None and restarted.node == "menu" and restarted.answers == ()
    back, _ = dialogue.step(s, cmd(Command.BACK), NOW)
    assert back is not None and back.node == "fees" and back.answers == () and back.history == ()


def test_history_stays_bounded(dialogue: FlowDialogue) -> None:
    s: Session | None = at(dialogue, "menu")
    for _ in range(15):
        s, _ = dialogue.step(s, Intent(IntentKind.TOPIC, "esim"), NOW)
        s, _ = dialogue.step(s, Intent(IntentKind.TOPIC, "support"), NOW)
    assert s is not None and len(s.history) == MAX_HISTORY


def test_end_and_forget_drop_the_session(dialogue: FlowDialogue) -> None:
    for intent in (cmd(Command.END), Intent(IntentKind.FORGET)):
        s, reply = dialogue.step(at(dialogue, "fees"), intent, NOW)
        assert s is None and "ありがとうございました" in all_texts(reply)
        reply.validate()


def test_ambiguous_offers_candidates_then_follows_the_pick(dialogue: FlowDialogue) -> None:
    amb = Intent(IntentKind.AMBIGUOUS, candidates=("esim", "sim_return", "not_a_topic"))
    s, reply = dialogue.step(at(dialogue, "cancel"), amb, NOW)
    assert s is not None and s.pending == ("esim", "sim_return") and s.node == "cancel"
    assert [c.value for c in reply.choices] == ["topic:esim", "topic:sim_return", "nav:menu"]
    exp = dialogue.expectation(s)
    assert "topic:esim" in {c.value for c in exp.choices}
    s, reply = dialogue.step(s, Intent(IntentKind.CHOICE, "topic:sim_return", node="cancel"), NOW)
    assert s is not None and s.node == "sim_return" and s.pending == ()


def test_ambiguous_with_one_known_topic_goes_there(dialogue: FlowDialogue) -> None:
    amb = Intent(IntentKind.AMBIGUOUS, candidates=("device", "unknown"))
    s, _ = dialogue.step(at(dialogue, "menu"), amb, NOW)
    assert s is not None and s.node == "device"


def test_session_of_an_older_flow(dialogue: FlowDialogue) -> None:
    gone = Session(node="removed_node", flow_version="0ld0ld0ld0ld")
    s, reply = dialogue.step(gone, Intent(IntentKind.UNKNOWN), NOW)
    assert s is not None and s.node == "menu" and s.flow_version == dialogue.flow_version
    assert "更新されたため" in all_texts(reply)
    kept = Session(node="fees", flow_version="0ld0ld0ld0ld", answers=(("mnp", "no"),))
    s, reply = dialogue.step(kept, Intent(IntentKind.CHOICE, "giga"), NOW)
    assert s is not None and s.node == "fees_giga" and s.flow_version == dialogue.flow_version
    assert "更新されたため" not in all_texts(reply)


def test_expired_without_session(dialogue: FlowDialogue) -> None:
    s, reply = dialogue.step(None, Intent(IntentKind.START), NOW, expired=True)
    assert reply.texts[0].startswith("前回の会話は時間がたったため")
    assert s is not None and s.node == "menu"
    _, reply = dialogue.step(None, Intent(IntentKind.START), NOW)
    assert "前回の会話" not in all_texts(reply)


def test_new_conversation_acts_only_on_menu_buttons(dialogue: FlowDialogue) -> None:
    s, _ = dialogue.step(None, Intent(IntentKind.CHOICE, "fees", node="menu"), NOW)
    assert s is not None and s.node == "fees"
    s, _reply = dialogue.step(None, Intent(IntentKind.CHOICE, "giga", node="fees"), NOW)
    assert s is not None and s.node == "menu"


def test_date_bounds_are_inclusive(dialogue: FlowDialogue) -> None:
    today = NOW.date()
    for ok in (date(2010, 1, 1), today):
        s, _ = dialogue.step(at(dialogue, "min_period"), Intent(IntentKind.DATE, date=ok), NOW)
        assert s is not None and s.node == "min_period_answer"
    for bad in (date(2009, 12, 31), date(2026, 11, 25)):
        s, reply = dialogue.step(at(dialogue, "min_period"), Intent(IntentKind.DATE, date=bad), NOW)
        assert s is not None and s.node == "min_period" and s.answer("start_date") is None
        assert reply.date_question is not None and reply.date_question.max == today


def test_month_end_button_sets_the_date(dialogue: FlowDialogue) -> None:
    s, _reply = dialogue.step(at(dialogue, "withdraw"), Intent(IntentKind.CHOICE, "month_end"), NOW)
    assert s is not None and s.answer("cancel_day") == "2026-11-30"


def test_step_is_pure(dialogue: FlowDialogue) -> None:
    s = at(dialogue, "withdraw")
    intent = Intent(IntentKind.DATE, date=date(2026, 11, 30))
    assert dialogue.step(s, intent, NOW) == dialogue.step(s, intent, NOW)


def test_a_day_no_rule_covers_is_said_not_guessed(dialogue: FlowDialogue) -> None:
    # R4 (初期契約解除) exists from 2016-05-21 only; asking "before" it has no rule to apply.
    early = datetime(2015, 6, 1, 12, 0, tzinfo=JST)
    s = at(dialogue, "initial")
    s2, reply = dialogue.step(s, Intent(IntentKind.DATE, date=date(2015, 5, 30)), early)
    reply.validate()
    assert s2 is not None and s2.node == "initial_answer" and reply.card is None
    assert "0570-09-4400" in all_texts(reply)


def test_a_card_cites_the_rule_version_the_calculator_used() -> None:
    """R6 is decided by the day the voice line ends; when the terms changed in between,
    the card must name the version that decided, not the one in force today."""
    from core.dialogue.loader import load_flow
    from core.policy.rules import DEFAULT_PATH, parse_rules

    text = DEFAULT_PATH.read_text(encoding="utf-8")
    head, r6, tail = text.partition("  - id: R6\n")
    r6_body, sep, rest = tail.partition("\n  - id: R7")
    old = r6 + r6_body.replace("effective_to: null", "effective_to: 2023-12-31").replace(
        "source: ", "source: 旧規約A・", 1
    )
    new = r6 + r6_body.replace("version: 1", "version: 2").replace(
        "effective_from: 2000-01-01", "effective_from: 2024-01-01"
    ).replace("source: ", "source: 新規約B・", 1)
    book = parse_rules(head + old + "\n" + new + sep + rest)
    dialogue = FlowDialogue(load_flow(), rules=book)

    s, _ = dialogue.step(None, Intent(IntentKind.TOPIC, value="fees"), NOW)
    for intent in (
        Intent(IntentKind.CHOICE, value="old", node="fees"),
        Intent(IntentKind.CHOICE, value="voice", node="fees_sim"),
        Intent(IntentKind.DATE, date=date(2023, 3, 10)),
        Intent(IntentKind.DATE, date=date(2023, 6, 20)),
    ):
        assert s is not None
        s, reply = dialogue.step(s, intent, NOW)
    assert reply.card is not None
    assert "旧規約A" in reply.card.source
    assert "新規約B" not in reply.card.source
