"""Issue 7: what customers actually write, one test group per class of mistake.

Each case is a phrasing of our own (not from the blind sets), understood with the
Expectation the real flow gives at the node, as the customer would meet it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.dialogue import default_dialogue
from core.intent import DateFact, DateRole, Expectation, Intent, IntentKind
from core.nlu import understand
from core.session import Session

TODAY = date(2026, 11, 25)  # a Wednesday


def at(node: str | None) -> Expectation:
    dialogue = default_dialogue()
    session = None if node is None else Session(node=node, flow_version=dialogue.flow_version)
    return dialogue.expectation(session)


def first(text: str) -> Intent:
    return understand(text, at(None), TODAY)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


# ---- 1. a length of time is not a day of the month -----------------------------------


@pytest.mark.parametrize(
    ("text", "topic", "role", "day"),
    [
        ("届いて5日たちましたが、初期契約解除できますか", "initial", DateRole.RECEIPT, ago(5)),
        ("SIMが届いて今日で3日目、初期契約解除したい", "initial", DateRole.RECEIPT, ago(2)),
        ("4日前に契約したけど最低利用期間ってある？", "min_period", DateRole.START, ago(4)),
        ("開通して2週間の最低利用期間は？", "min_period", DateRole.START, ago(14)),
    ],
)
def test_a_length_of_time_counts_back_and_fills_the_topics_date(
    text: str, topic: str, role: DateRole, day: date
) -> None:
    # Read as "the 5th of this month", a receipt 20 days ago told the customer that the
    # 8-day window had closed: a legal right denied.
    got = first(text)
    # At the menu a topic's own button word is a choice of the same topic.
    assert got.kind in (IntentKind.TOPIC, IntentKind.CHOICE)
    assert (got.value.removeprefix("topic:"), got.date) == (topic, day)
    assert DateFact(role, day, said=got.facts.dates[0].said) in got.facts.dates


def test_a_rough_length_of_time_is_offered_as_candidate_days_not_guessed() -> None:
    got = first("使い始めて2週間くらいなんですが、最低利用期間は？")
    assert got.kind is IntentKind.TOPIC and got.value == "min_period"
    assert got.date is None  # not a confident answer from a guessed day
    (fact,) = got.facts.dates
    assert fact.role is DateRole.START and fact.date is None
    assert fact.candidates == (ago(17), ago(14), ago(11))


def test_at_a_date_question_a_rough_length_of_time_offers_the_days() -> None:
    got = understand("1か月くらい前かな", at("min_period"), TODAY)
    assert got.kind is IntentKind.VAGUE_DATE
    assert got.date_candidates == (date(2026, 10, 18), date(2026, 10, 25), date(2026, 11, 1))


def test_a_date_is_only_taken_for_the_question_it_answers() -> None:
    # 先月末 here is when the bill came, not when the line started.
    got = first("先月末に届いた請求、初月の日割りになってますか")
    assert got.kind is IntentKind.TOPIC and got.value == "proration"
    assert got.date is None


# ---- 2. every date with its role -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "role", "day"),
    [
        ("6月20日から使ってるけどいつ解約できる？", DateRole.START, date(2026, 6, 20)),
        ("10/1に開通したけど最低利用期間は？", DateRole.START, date(2026, 10, 1)),
        ("11月20日に書類を受け取った。初期契約解除したい", DateRole.RECEIPT, date(2026, 11, 20)),
        ("11/30に解約予定です", DateRole.CANCEL, date(2026, 11, 30)),
        ("昨日解約を申し込んだ", DateRole.CANCEL, ago(1)),
        ("11月3日の天気", DateRole.NONE, date(2026, 11, 3)),
    ],
)
def test_each_date_gets_the_role_of_the_words_next_to_it(
    text: str, role: DateRole, day: date
) -> None:
    dates = first(text).facts.dates
    assert [(d.role, d.date) for d in dates] == [(role, day)]


def test_two_dates_in_one_message_keep_their_own_roles() -> None:
    got = first("10月1日に契約して、書面は10月3日に届きました。初期契約解除できる？")
    assert [(d.role, d.date) for d in got.facts.dates] == [
        (DateRole.START, date(2026, 10, 1)),
        (DateRole.RECEIPT, date(2026, 10, 3)),
    ]
    assert got.value == "initial" and got.date == date(2026, 10, 3)  # the receipt date


# ---- 3. negation and contrast ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "not_topic"),
    [
        ("MNPはしないで、普通に解約したい", "mnp"),
        ("転出じゃなくて解約だけしたい", "mnp"),
        ("乗り換えではなく、解約のみです", "mnp"),
        ("番号は変わっていいのでauへ移ります", "mnp"),
        ("番号は変わっていいのでドコモへ", "mnp"),  # a carrier change that is not MNP
        ("オプションは残して回線だけ解約したい", "option"),
        ("eSIMじゃなくて物理SIMの解約です", "esim"),
        ("かけ放題だけじゃなくて全部解約したい", "option"),
        ("解約しないで済む方法ある？", "cancel"),
    ],
)
def test_a_negated_topic_does_not_win(text: str, not_topic: str) -> None:
    got = first(text)
    assert got.value != not_topic and not_topic not in got.candidates, got


# ---- 4. two topics compete: ask, don't guess --------------------------------------------


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("データSIMを音声に変えたい。交換って有料？", "fees"),
        ("eSIMの解約方法", "esim"),
        ("最短でいつ解約できますか", "min_period"),
        ("解約したのにスマホがネットにつながる", "still_works"),
        ("解約済みだけど通話ができてしまう", "still_works"),
    ],
)
def test_the_specific_topic_wins(text: str, topic: str) -> None:
    assert first(text) == Intent(IntentKind.TOPIC, value=topic, facts=first(text).facts)


def test_a_new_phone_is_not_the_instalments_of_the_old_one() -> None:
    assert first("機種変更したい").kind is IntentKind.OFF_TOPIC


def test_two_topics_named_alike_are_offered_as_exactly_those_buttons() -> None:
    got = first("違約金とSIMの返却について知りたい")
    assert got.kind is IntentKind.AMBIGUOUS
    assert set(got.candidates) == {"fees", "sim_return"}


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("転出と普通の解約、どっちがお得？", {"mnp", "cancel"}),
        ("初期契約解除とMNP、どちらにすべき？", {"initial", "mnp"}),
    ],
)
def test_which_of_two_named_topics_is_asked_back_with_those_two(
    text: str, topics: set[str]
) -> None:
    got = first(text)
    assert got.kind is IntentKind.AMBIGUOUS and set(got.candidates) == topics


def test_which_carrier_is_better_is_the_next_carrier_topic() -> None:
    assert first("楽天とドコモ、どっちがいいかな").value == "next_carrier"


# ---- 5. off-topic says so ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "明日の天気を教えて",
        "APNの設定がわからない",
        "プランを変更したいです",
        "ギガが足りないので追加したい",
        "テザリングのやり方",
        "新規で契約したいです",
    ],
)
def test_off_topic_is_said_so_never_a_topic_card(text: str) -> None:
    assert first(text).kind is IntentKind.OFF_TOPIC


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("テザリングオプションを解約したい", "option"),  # a feature that is an option
        ("5Gのオプションを外したい", "option"),
        ("解約したら何時まで使える？", "end_date"),
    ],
)
def test_a_topic_is_not_lost_to_an_off_topic_word_beside_it(text: str, topic: str) -> None:
    assert first(text).value == topic


def test_thanks_stays_thanks() -> None:
    assert first("ありがとうございました！").kind is IntentKind.THANKS


# ---- 6. long messages: the sentence that asks decides ----------------------------------


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        (
            "夫の会社で携帯が支給されることになりました。今の番号もいらないので、"
            "解約の手順を教えてください",
            "cancel",
        ),
        ("ドコモに乗り換えることにしました。違約金はかかりますか？", "fees"),
        ("先月解約を申し込んで、まだ使えてるけど取り消せますか", "withdraw"),
        ("契約して3日目だけど解約したい", "initial"),  # the question names no topic itself
        ("ahamoに乗り換えたいけど違約金かかる？", "fees"),  # a wish before けど is background
    ],
)
def test_the_asking_sentence_outweighs_the_background(text: str, topic: str) -> None:
    assert first(text).value == topic


# ---- 7. small ones -------------------------------------------------------------------


@pytest.mark.parametrize("text", ["つーわていがくやめたい", "つうわてーがくをやめたい"])
def test_a_long_vowel_half_typed_as_ー_still_matches(text: str) -> None:
    assert first(text).value == "option"


@pytest.mark.parametrize("text", ["今日の天気は？", "明日って雨かな"])
def test_today_in_off_topic_chatter_is_no_date_answer(text: str) -> None:
    got = understand(text, at("min_period"), TODAY)
    assert got.kind is IntentKind.OFF_TOPIC


def test_today_alone_still_answers_a_date_question() -> None:
    got = understand("今日です", at("min_period"), TODAY)
    assert got.kind is IntentKind.DATE and got.date == TODAY
