"""Facts said in a message answer the questions ahead: the engine skips them and says so.

Intents are built by hand with facts, as the NLU will hand them over (the date roles and
vague candidates come from core.nlu.dates; plan, SIM, number, amount from core.nlu.facts).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from core.clock import JST
from core.dialogue import default_dialogue
from core.dialogue.engine import FlowDialogue
from core.dialogue.prefill import MARK
from core.intent import Command, DateFact, DateRole, Facts, Intent, IntentKind
from core.reply import Reply
from core.session import Frame, Session

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=JST)
FROM_MESSAGE = "（メッセージから）"
REUSED = "前にお聞きした内容"


@pytest.fixture
def dialogue() -> FlowDialogue:
    return default_dialogue()


def at(dialogue: FlowDialogue, node: str, **kw: object) -> Session:
    s = Session(node=node, flow_version=dialogue.flow_version)
    return replace(s, **kw) if kw else s  # type: ignore[arg-type]


def topic(tid: str, **facts: object) -> Intent:
    return Intent(IntentKind.TOPIC, tid, facts=Facts(**facts))  # type: ignore[arg-type]


def rows(reply: Reply) -> dict[str, str]:
    assert reply.card is not None, reply
    return {r.label: r.value for r in reply.card.rows}


def text(reply: Reply) -> str:
    return "\n".join(reply.readable_texts())


def start(d: date, said: str = "") -> DateFact:
    return DateFact(DateRole.START, d, said=said)


# ---- class 2: facts in the first message are not asked again ---------------------------


def test_plan_in_the_first_message_skips_the_plan_question(dialogue: FlowDialogue) -> None:
    # 「ギガプランだけど違約金かかる？」
    s, reply = dialogue.step(at(dialogue, "menu"), topic("fees", plan="giga"), NOW)
    assert s is not None and s.node == "fees_giga"
    assert rows(reply)["ご契約のプラン"] == "ギガプラン" + FROM_MESSAGE
    assert REUSED not in text(reply)  # it was not asked earlier: it was said just now
    reply.validate()


def test_start_date_said_with_the_topic_fills_the_card(dialogue: FlowDialogue) -> None:
    # 「6月20日から使ってるけどいつ解約できる？」
    intent = topic("min_period", dates=(start(date(2026, 6, 20), "6月20日から使ってる"),))
    s, reply = dialogue.step(at(dialogue, "menu"), intent, NOW)
    assert s is not None and s.node == "min_period_answer"
    assert rows(reply)["利用開始日"] == "2026年6月20日(土)" + FROM_MESSAGE
    assert s.answer("start_date") == "2026-06-20"


def test_a_date_fills_only_the_slot_of_its_role(dialogue: FlowDialogue) -> None:
    # 「届いたのは11月20日」 is a receipt date: never the usage start of 最低利用期間.
    receipt = DateFact(DateRole.RECEIPT, date(2026, 11, 20))
    s, reply = dialogue.step(at(dialogue, "menu"), topic("min_period", dates=(receipt,)), NOW)
    assert s is not None and s.node == "min_period" and reply.asks_date and reply.card is None
    s, reply = dialogue.step(at(dialogue, "menu"), topic("initial", dates=(receipt,)), NOW)
    assert s is not None and s.node == "initial_answer"
    assert rows(reply)["書面を受け取った日"].endswith(FROM_MESSAGE)


def test_a_date_without_a_role_word_is_not_taken_for_a_start_date(
    dialogue: FlowDialogue,
) -> None:
    # 「先月の月末の請求って日割り？」: 月末 is no usage start; the question is asked.
    month_end = DateFact(DateRole.NONE, date(2026, 10, 31), said="月末")
    intent = replace(topic("proration", dates=(month_end,)), date=date(2026, 10, 31))
    s, reply = dialogue.step(at(dialogue, "menu"), intent, NOW)
    assert s is not None and s.node == "proration" and reply.asks_date
    assert s.answer("start_date") is None


def test_the_older_date_with_a_topic_still_works_without_date_facts(
    dialogue: FlowDialogue,
) -> None:
    # Until the NLU gives dates their roles, Intent.date with the topic keeps working.
    intent = Intent(IntentKind.TOPIC, "min_period", date=date(2026, 6, 20))
    s, reply = dialogue.step(at(dialogue, "menu"), intent, NOW)
    assert s is not None and s.node == "min_period_answer" and reply.card is not None


def test_two_dates_in_one_role_are_asked_not_picked(dialogue: FlowDialogue) -> None:
    dates = (start(date(2026, 6, 20)), start(date(2026, 7, 1)))
    s, reply = dialogue.step(at(dialogue, "menu"), topic("min_period", dates=dates), NOW)
    assert s is not None and s.node == "min_period" and reply.asks_date


def test_a_date_the_question_would_refuse_is_asked(dialogue: FlowDialogue) -> None:
    future = start(date(2026, 12, 20))  # 最低利用期間 takes a start up to today
    s, reply = dialogue.step(at(dialogue, "menu"), topic("min_period", dates=(future,)), NOW)
    assert s is not None and s.node == "min_period" and reply.asks_date


def test_old_plan_voice_and_start_date_skip_three_questions(dialogue: FlowDialogue) -> None:
    intent = topic("fees", plan="old", sim="voice", dates=(start(date(2026, 3, 1)),))
    s, reply = dialogue.step(at(dialogue, "menu"), intent, NOW)
    assert s is not None and s.node == "fees_end" and reply.asks_date
    said = text(reply)
    for item in (
        "ご契約のプラン: 旧プラン",
        "SIMの種類: 音声通話SIM",
        "利用開始日: 2026年3月1日(日)",
    ):
        assert item in said
    assert "「戻る」" in said
    s, reply = dialogue.step(s, Intent(IntentKind.DATE, date=date(2026, 11, 30)), NOW)
    assert s is not None and s.node == "fees_old_voice"
    card = rows(reply)
    assert card["利用開始日"].endswith(FROM_MESSAGE) and card["SIMの種類"].endswith(FROM_MESSAGE)
    assert not card["終了日"].endswith(FROM_MESSAGE)  # asked and answered
    reply.validate()


def test_sms_sim_is_the_data_choice_and_esim_fills_nothing(dialogue: FlowDialogue) -> None:
    s, _ = dialogue.step(at(dialogue, "menu"), topic("fees", plan="old", sim="sms"), NOW)
    assert s is not None and s.node == "fees_old_data"
    s, reply = dialogue.step(at(dialogue, "menu"), topic("fees", plan="old", sim="esim"), NOW)
    assert s is not None and s.node == "fees_sim"  # an eSIM may be voice or data: asked
    assert "ご契約のプラン: 旧プラン" in text(reply)


def test_keep_number_answers_the_mnp_question(dialogue: FlowDialogue) -> None:
    # 「番号はいらないので、解約したらいつまで使える？」
    s, reply = dialogue.step(at(dialogue, "menu"), topic("end_date", keep_number=False), NOW)
    assert s is not None and s.node == "end_date_cancel"
    assert rows(reply)["電話番号"] == "引き継がない（解約のみ）" + FROM_MESSAGE
    # 「番号そのままドコモに行きたい、いつまで使える？」
    intent = topic("end_date", keep_number=True, carrier="docomo")
    s, reply = dialogue.step(at(dialogue, "menu"), intent, NOW)
    assert s is not None and s.node == "end_date_mnp"
    assert rows(reply)["乗り換え先"] == "ドコモ" + FROM_MESSAGE


def test_a_button_answer_shows_without_the_message_note(dialogue: FlowDialogue) -> None:
    s, reply = dialogue.step(at(dialogue, "end_date"), Intent(IntentKind.CHOICE, "mnp_no"), NOW)
    assert s is not None and rows(reply)["電話番号"] == "引き継がない（解約のみ）"


def test_option_named_in_the_message_is_on_the_card(dialogue: FlowDialogue) -> None:
    _, reply = dialogue.step(at(dialogue, "menu"), topic("option", option="通話定額"), NOW)
    assert rows(reply)["オプション"] == "通話定額" + FROM_MESSAGE
    _, plain = dialogue.step(at(dialogue, "menu"), topic("option"), NOW)
    assert plain.card is not None and plain.card.rows == ()


def test_back_after_a_prefilled_card_forgets_the_message_facts(dialogue: FlowDialogue) -> None:
    s, _ = dialogue.step(at(dialogue, "menu"), topic("fees", plan="giga"), NOW)
    s, _ = dialogue.step(s, Intent(IntentKind.COMMAND, Command.BACK.value), NOW)
    assert s is not None and s.node == "menu" and s.answers == ()
    s, _ = dialogue.step(s, Intent(IntentKind.CHOICE, "fees", node="menu"), NOW)
    assert s is not None and s.node == "fees"  # asked this time


def test_a_later_answer_by_button_clears_the_mark(dialogue: FlowDialogue) -> None:
    s, _ = dialogue.step(at(dialogue, "menu"), topic("fees", plan="old"), NOW)
    assert s is not None and s.node == "fees_sim" and s.answer(MARK) == "plan"
    # Back at the plan question later (a new visit), the customer picks a plan by button.
    again = at(dialogue, "fees", answers=s.answers)
    s, _ = dialogue.step(again, Intent(IntentKind.CHOICE, "giga"), NOW)
    assert s is not None and s.answer("plan") == "giga" and s.answer(MARK) is None


def test_facts_of_an_ambiguous_message_wait_for_the_pick(dialogue: FlowDialogue) -> None:
    amb = Intent(
        IntentKind.AMBIGUOUS,
        candidates=("fees", "min_period"),
        facts=Facts(plan="mio", dates=(start(date(2026, 6, 20)),)),
    )
    s, reply = dialogue.step(at(dialogue, "menu"), amb, NOW)
    assert s is not None and s.pending == ("fees", "min_period")
    pick = Intent(IntentKind.CHOICE, "topic:fees", node="menu")
    s, reply = dialogue.step(s, pick, NOW)
    assert s is not None and s.node == "fees_giga"
    assert rows(reply)["ご契約のプラン"] == "mioモバイル" + FROM_MESSAGE


def test_a_later_message_fills_what_is_open_but_rewrites_nothing(
    dialogue: FlowDialogue,
) -> None:
    # At the SIM question, 「ギガプランの音声SIMです」: the SIM is answered (asked here), the
    # plan answered earlier by button stays.
    s0 = at(dialogue, "fees_sim", answers=(("plan", "old"),), history=(Frame("fees", ()),))
    later = Intent(IntentKind.UNKNOWN, facts=Facts(plan="giga", sim="voice"))
    s, reply = dialogue.step(s0, later, NOW)
    assert s is not None and s.node == "fees_start" and reply.asks_date
    assert s.answer("plan") == "old" and s.answer("sim") == "voice"
    assert s.answer(MARK) is None  # a reply to its own question is no assumption


def test_a_later_message_with_a_date_ahead_keeps_it_and_says_so(dialogue: FlowDialogue) -> None:
    # At the plan question, 「6月20日から使っています」: not a plan, but the start date the
    # next questions need. Kept, said back, and the plan asked again.
    later = Intent(
        IntentKind.DATE, date=date(2026, 6, 20), facts=Facts(dates=(start(date(2026, 6, 20)),))
    )
    s, reply = dialogue.step(at(dialogue, "fees"), later, NOW)
    assert s is not None and s.node == "fees" and s.answer("start_date") == "2026-06-20"
    assert "利用開始日: 2026年6月20日(土)" in text(reply)
    assert [c.value for c in reply.choices] == ["giga", "mio", "old"]


def test_session_stays_small(dialogue: FlowDialogue) -> None:
    intent = topic("fees", plan="old", sim="voice", dates=(start(date(2026, 3, 1)),))
    s, _ = dialogue.step(at(dialogue, "menu"), intent, NOW)
    assert s is not None and s.answer(MARK) == "plan,sim,start_date"
    assert len(s.to_json().encode()) < 400
    assert Session.from_json(s.to_json()) == s


def test_a_date_of_another_kind_at_a_date_question_is_asked_again(
    dialogue: FlowDialogue,
) -> None:
    # 「11月10日に契約しました」 at the receipt question: a contract date computed as the
    # receipt date could say the 8 days are over when they are not.
    d = date(2026, 11, 10)
    said = Intent(IntentKind.DATE, date=d, facts=Facts(dates=(start(d, "11月10日に契約しました"),)))
    s, reply = dialogue.step(at(dialogue, "initial"), said, NOW)
    assert s is not None and s.node == "initial" and reply.card is None and reply.asks_date
    assert s.answer("received_date") is None
    assert "「11月10日に契約しました」は利用開始日" in text(reply)
    assert "書面を受け取った日を教えてください" in text(reply)
    # The same date typed bare is taken: the customer says it is the receipt day too.
    s, reply = dialogue.step(s, Intent(IntentKind.DATE, date=d), NOW)
    assert s is not None and s.node == "initial_closed" and reply.card is not None
    # A date said in the question's own role, or with no role word, is taken at once.
    receipt = DateFact(DateRole.RECEIPT, d, said="11月10日に届いた")
    s, _ = dialogue.step(
        at(dialogue, "initial"), Intent(IntentKind.DATE, date=d, facts=Facts(dates=(receipt,))), NOW
    )
    assert s is not None and s.answer("received_date") == "2026-11-10"


# ---- typed amounts at the fee question ------------------------------------------------


def test_typed_amount_is_the_monthly_fee(dialogue: FlowDialogue) -> None:
    s0 = at(dialogue, "proration_fee", answers=(("start_date", "2026-11-10"),))
    typed = Intent(IntentKind.UNKNOWN, facts=Facts(amount_yen=1078))  # 「1,078円」
    s, reply = dialogue.step(s0, typed, NOW)
    assert s is not None and s.node == "proration_answer" and s.answer("monthly_fee") == "1078"
    fee = rows(reply)["初月の料金"]
    assert "月額1,078円" in fee and FROM_MESSAGE not in fee
    assert REUSED not in text(reply)  # just typed, not an earlier answer
    rough = Intent(IntentKind.UNKNOWN, facts=Facts(amount_yen=1000))  # 「千円くらい」
    s, reply = dialogue.step(s0, rough, NOW)
    assert s is not None and "月額1,000円" in rows(reply)["初月の料金"]


def test_an_amount_in_the_first_message_is_not_taken_for_the_fee(
    dialogue: FlowDialogue,
) -> None:
    # 「初月の日割りって1000円くらい？」 guesses the prorated amount, not the monthly fee.
    intent = topic("proration", amount_yen=1000, dates=(start(date(2026, 11, 10)),))
    s, _ = dialogue.step(at(dialogue, "menu"), intent, NOW)
    assert s is not None and s.node == "proration_fee" and s.answer("monthly_fee") is None


# ---- vague dates: ask with the candidates -----------------------------------------------


CANDIDATES = (date(2026, 11, 10), date(2026, 11, 9), date(2026, 11, 11))


def test_a_vague_date_offers_its_candidates_never_a_card(dialogue: FlowDialogue) -> None:
    # 「1週間くらい前に届いたけど初期契約解除できる？」: the 8th day may or may not have
    # passed, so no card until the customer says which day.
    week = (date(2026, 11, 17), date(2026, 11, 16), date(2026, 11, 18))
    rough = DateFact(DateRole.RECEIPT, candidates=week, said="1週間くらい前")
    s, reply = dialogue.step(at(dialogue, "menu"), topic("initial", dates=(rough,)), NOW)
    assert s is not None and s.node == "initial" and reply.card is None and reply.asks_date
    labels = [c.label for c in reply.choices]
    assert labels[:3] == ["2026年11月17日(火)", "2026年11月16日(月)", "2026年11月18日(水)"]
    assert "今日受け取った" in labels  # the node's own button stays
    assert "「1週間くらい前」" in text(reply)
    reply.validate()
    pick = reply.choices[2]
    s, reply = dialogue.step(s, Intent(IntentKind.CHOICE, pick.value, node="initial"), NOW)
    assert s is not None and s.node == "initial_answer"
    assert rows(reply)["書面を受け取った日"] == "2026年11月18日(水)"
    assert "あと1日" in text(reply)


def test_a_vague_date_of_another_role_is_not_offered(dialogue: FlowDialogue) -> None:
    rough = DateFact(DateRole.START, candidates=CANDIDATES, said="2週間くらい前")
    _, reply = dialogue.step(at(dialogue, "menu"), topic("initial", dates=(rough,)), NOW)
    assert [c.label for c in reply.choices] == ["今日受け取った"]


def test_a_vague_date_typed_at_the_date_question(dialogue: FlowDialogue) -> None:
    vague = Intent(IntentKind.VAGUE_DATE, "2週間くらい前", date_candidates=CANDIDATES)
    s, reply = dialogue.step(at(dialogue, "min_period"), vague, NOW)
    assert s is not None and s.node == "min_period" and reply.card is None and reply.asks_date
    assert [c.value for c in reply.choices] == [f"date:{d.isoformat()}" for d in CANDIDATES]
    reply.validate()


def test_a_candidate_button_outside_a_date_question_is_a_slip(dialogue: FlowDialogue) -> None:
    s, _ = dialogue.step(at(dialogue, "fees"), Intent(IntentKind.CHOICE, "date:2026-11-10"), NOW)
    assert s is not None and s.node == "fees" and s.no_match == 1


# ---- off-topic ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["menu", "fees", "min_period", None])
def test_off_topic_says_what_the_bot_does_and_shows_the_menu(
    dialogue: FlowDialogue, where: str | None
) -> None:
    s0 = at(dialogue, where) if where else None
    s, reply = dialogue.step(s0, Intent(IntentKind.OFF_TOPIC), NOW)
    assert s is not None and s.node == "menu" and reply.card is None
    said = text(reply)
    assert "解約" in said and "0570-09-4400" in said
    assert [c.value for c in reply.choices][:2] == ["cancel", "mnp"]
    reply.validate()
