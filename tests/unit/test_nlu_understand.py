"""understand(): customer phrasings, commands, choices, dates and robustness."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.intent import ChoiceSpec, Command, Expectation, Facts, Intent, IntentKind
from core.nlu import topic_ids, topic_label, understand
from core.nlu.lexicon import TOPIC_IDS, LexiconError, load_lexicon, parse_lexicon
from tests.nlu_tables import assert_accuracy, load_cases

MENU = Expectation(node="menu")
TODAY = date(2026, 6, 10)


def meaning(got: Intent) -> Intent:
    """The intent without the facts it carries (those are extract_facts' tests)."""
    return replace(got, facts=Facts())


def test_phrase_table_is_big_and_covers_every_topic() -> None:
    _, cases = load_cases("nlu_phrases.yaml")
    assert len(cases) >= 170
    covered = {c.value for c in cases if c.kind == "topic"}
    assert covered == set(TOPIC_IDS)


def test_phrase_table_accuracy() -> None:
    assert_accuracy("nlu_phrases.yaml", 0.95)


def test_holdout_accuracy() -> None:
    assert_accuracy("nlu_holdout.yaml", 0.85)


# --- precedence and disambiguation ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("解約", "cancel"),
        ("解約を取り消したい", "withdraw"),
        ("解約金", "fees"),
        ("乗り換えたい", "mnp"),
        ("乗り換え先のおすすめ", "next_carrier"),
        ("かけ放題だけやめたい", "option"),
        ("解約できない", "cannot_cancel"),
        ("やめたい", "cancel"),
    ],
)
def test_disambiguation(text: str, topic: str) -> None:
    assert meaning(understand(text, MENU, TODAY)) == Intent(IntentKind.TOPIC, value=topic)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("戻る", Command.BACK),
        ("もどる", Command.BACK),
        ("back", Command.BACK),
        ("前へ", Command.BACK),
        ("最初から", Command.RESTART),
        ("はじめから", Command.RESTART),
        ("メニュー", Command.RESTART),
        ("MENU", Command.RESTART),
        ("トップ", Command.RESTART),
        ("終了", Command.END),
        ("やめる", Command.END),
        ("おわり", Command.END),
        ("終わり", Command.END),
        ("バイバイ", Command.END),
        ("quit", Command.END),
        ("ヘルプ", Command.HELP),
        ("help", Command.HELP),
        ("使い方", Command.HELP),
        ("?", Command.HELP),
        ("終了します", Command.END),
        ("最初からお願いします", Command.RESTART),
        ("　戻る！", Command.BACK),
    ],
)
def test_whole_message_commands(text: str, command: Command) -> None:
    assert understand(text, MENU, TODAY) == Intent(IntentKind.COMMAND, value=command.value)


@pytest.mark.parametrize(
    "text", ["やめたい", "解約やめたい", "メニューの見方がわからない", "終了日はいつ"]
)
def test_command_words_inside_a_sentence_are_not_commands(text: str) -> None:
    assert understand(text, MENU, TODAY).kind is not IntentKind.COMMAND


def test_commands_win_over_the_nodes_choices() -> None:
    node = Expectation("q", choices=(ChoiceSpec("戻る", "go_back"), ChoiceSpec("次へ", "next")))
    assert understand("戻る", node, TODAY).kind is IntentKind.COMMAND


def test_ambiguous_offers_candidates_best_first() -> None:
    got = understand("eSIMの返却と違約金について", MENU, TODAY)
    assert got.kind is IntentKind.AMBIGUOUS
    assert set(got.candidates) >= {"esim", "fees"}
    assert got.candidates[0] == "fees"  # 違約金 is the strongest word in it
    assert 2 <= len(got.candidates) <= 4


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", IntentKind.NO_INPUT),
        ("   \u3000\n", IntentKind.NO_INPUT),
        ("こんにちは", IntentKind.START),
        ("hi", IntentKind.START),
        ("はじめまして", IntentKind.START),
        ("ラーメン食べたい", IntentKind.UNKNOWN),
    ],
)
def test_other_kinds(text: str, kind: IntentKind) -> None:
    assert understand(text, MENU, TODAY).kind is kind


def test_greeting_with_a_topic_is_the_topic() -> None:
    assert understand("こんにちは、解約したいです", MENU, TODAY).value == "cancel"


# --- dates ------------------------------------------------------------------------------

ASKS_DATE = Expectation("start_date", asks_date=True)


def test_date_when_asked() -> None:
    got = understand("6月20日に契約しました", ASKS_DATE, TODAY)
    assert got == Intent(IntentKind.DATE, value="2026-06-20", date=date(2026, 6, 20))


def test_date_wins_over_topic_words_when_asked() -> None:
    got = understand("解約したのは先月20日です", ASKS_DATE, TODAY)
    assert got.kind is IntentKind.DATE
    assert got.date == date(2026, 5, 20)


def test_topic_wins_over_date_at_the_menu() -> None:
    assert understand("6月20日に解約したのにまだ使える", MENU, TODAY).value == "still_works"


@pytest.mark.parametrize("text", ["2月30日", "13/1", "2026/2/29"])
def test_bad_date(text: str) -> None:
    got = understand(text, ASKS_DATE, TODAY)
    assert got.kind is IntentKind.BAD_DATE
    assert got.date is None


def test_full_width_date() -> None:
    assert understand("２０２６年６月２０日", ASKS_DATE, TODAY).date == date(2026, 6, 20)


def test_bare_day_number_is_a_date_only_when_asked() -> None:
    assert understand("20日", ASKS_DATE, TODAY).date == date(2026, 6, 20)


# --- choices ----------------------------------------------------------------------------

PLAN = Expectation(
    "plan",
    choices=(
        ChoiceSpec("ギガプラン", "giga", ("ぎがぷらん", "今のプラン")),
        ChoiceSpec("旧プラン(ミニマムスタート等)", "old", ("みにまむ", "ライトスタート")),
        ChoiceSpec("わからない", "unknown"),
    ),
)
YES_NO = Expectation("mnp?", choices=(ChoiceSpec("はい", "yes"), ChoiceSpec("いいえ", "no")))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", "giga"),
        ("１", "giga"),
        ("①", "giga"),
        ("2番", "old"),
        ("3番目", "unknown"),
        ("３でお願いします", "unknown"),
        ("ギガプラン", "giga"),
        ("ｷﾞｶﾞﾌﾟﾗﾝ", "giga"),
        ("giga", "giga"),
        ("今のプラン", "giga"),
        ("ライトスタート", "old"),
        ("ギガプランです", "giga"),
        ("たぶんギガプランだと思う", "giga"),
        ("ギガプラソ", "giga"),  # ン typed as ソ
        ("分からない", "unknown"),  # another way of saying the label
        ("わかりません", "unknown"),
    ],
)
def test_pick_choice(text: str, value: str) -> None:
    assert meaning(understand(text, PLAN, TODAY)) == Intent(
        IntentKind.CHOICE, value=value, node="plan"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("はい", "yes"),
        ("うん", "yes"),
        ("OK", "yes"),
        ("はい、お願いします", "yes"),
        ("いいえ", "no"),
        ("違います", "no"),
        ("no", "no"),
        ("yes", "yes"),
    ],
)
def test_yes_and_no_in_their_many_forms(text: str, value: str) -> None:
    assert understand(text, YES_NO, TODAY).value == value


@pytest.mark.parametrize("text", ["4", "0", "10番"])
def test_number_out_of_range_is_not_a_choice(text: str) -> None:
    assert understand(text, PLAN, TODAY).kind is not IntentKind.CHOICE


def test_a_topic_question_at_a_choice_node_is_the_topic() -> None:
    assert meaning(understand("違約金はかかりますか", PLAN, TODAY)) == Intent(
        IntentKind.TOPIC, value="fees"
    )


def test_a_topic_menu_does_not_swallow_longer_topics() -> None:
    menu = Expectation(
        "menu",
        choices=(ChoiceSpec("解約", "cancel"), ChoiceSpec("乗り換え", "mnp")),
    )
    assert understand("解約", menu, TODAY).kind is IntentKind.CHOICE
    assert understand("解約金が知りたいんですけど", menu, TODAY).value == "fees"


def test_a_near_miss_of_a_button_that_asks_another_topic_is_that_topic() -> None:
    menu = Expectation(
        "menu",
        choices=(ChoiceSpec("解約の手順", "cancel"), ChoiceSpec("最低利用期間", "min_period")),
    )
    assert meaning(understand("解約の手数料", menu, TODAY)) == Intent(
        IntentKind.TOPIC, value="fees"
    )
    assert understand("最低利用期問", menu, TODAY).value == "min_period"  # 問 for 間


# --- lexicon ----------------------------------------------------------------------------


def test_topic_ids_and_labels() -> None:
    assert topic_ids() == TOPIC_IDS
    for tid in topic_ids():
        label = topic_label(tid)
        assert 0 < len(label) <= 20
    with pytest.raises(KeyError):
        topic_label("nope")


def test_every_topic_has_words_that_find_it() -> None:
    for topic in load_lexicon().topics:
        assert topic.terms, topic.id


def _minimal(**over: Any) -> dict[str, Any]:
    topics = {tid: {"label": tid, "terms": {tid: 3}} for tid in TOPIC_IDS}
    data: dict[str, Any] = {"topics": topics, "commands": {"back": ["戻る"]}}
    data.update(over)
    return data


def test_lexicon_validation_catches_data_mistakes() -> None:
    parse_lexicon(_minimal())
    missing = _minimal()
    del missing["topics"]["fees"]
    with pytest.raises(LexiconError, match="fees"):
        parse_lexicon(missing)
    with pytest.raises(LexiconError, match="not text"):
        parse_lexicon(_minimal(greetings=[True]))  # a bare yes in YAML
    long_label = _minimal()
    long_label["topics"]["mnp"]["label"] = (
        "とても長いラベルがここに入ってしまっていてボタンに収まらない"
    )
    with pytest.raises(LexiconError, match="label"):
        parse_lexicon(long_label)
    with pytest.raises(LexiconError, match="two commands"):
        parse_lexicon(_minimal(commands={"back": ["戻る"], "end": ["戻る"]}))


# --- robustness -------------------------------------------------------------------------

EXPECTATIONS = st.sampled_from([MENU, ASKS_DATE, PLAN, YES_NO])


@settings(max_examples=300, deadline=None)
@given(st.text(), EXPECTATIONS, st.dates())
def test_never_raises(text: str, expect: Expectation, today: date) -> None:
    assert isinstance(understand(text, expect, today), Intent)


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=20), st.integers(min_value=500, max_value=1000))
def test_huge_input(chunk: str, repeat: int) -> None:
    text = (chunk * repeat)[:10_000]
    assert isinstance(understand(text, MENU, TODAY), Intent)


@pytest.mark.parametrize(
    "text",
    [
        "😀" * 3000,
        "\x00\x01\x02解約\x7f",
        "\u202e解約\u202c",
        "解約" * 5000,
        "\ufeff",
        "ｶｲﾔｸ\r\n\t",
    ],
)
def test_odd_input(text: str) -> None:
    assert isinstance(understand(text, MENU, TODAY), Intent)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("さいていりようきかんはなんかげつ", "min_period"),  # hiragana only: kanji words' readings
        ("しょきけいやくかいじょしたい", "initial"),
        ("解約でけへんねん", "cannot_cancel"),  # Kansai negative
        ("解役したい", "cancel"),  # IME picked the wrong kanji
        ("kaiyaku shitai", "cancel"),  # romaji
        ("いやくきんはかかりますかぁ", "fees"),
    ],
)
def test_spellings_customers_type(text: str, topic: str) -> None:
    assert meaning(understand(text, MENU, TODAY)) == Intent(IntentKind.TOPIC, value=topic)


SIM = Expectation(
    "sim",
    choices=(
        ChoiceSpec("音声通話SIM", "voice", ("音声", "通話", "電話", "はい")),
        ChoiceSpec("データSIM", "data", ("データ",)),
    ),
)


def test_a_choice_word_inside_a_longer_reply() -> None:
    assert understand("電話できるやつです", SIM, TODAY).value == "voice"
    # A yes-word inside a sentence is not an answer (番号はいらない has はい in it).
    assert understand("番号はいらないかな", SIM, TODAY).kind is IntentKind.UNKNOWN
    # Two choices named: not guessed.
    assert understand("電話もデータも使うやつ", SIM, TODAY).kind is IntentKind.UNKNOWN
    # A question about something else is the topic, not a choice.
    assert understand("電話番号そのままで乗り換えたい", SIM, TODAY).value == "mnp"
