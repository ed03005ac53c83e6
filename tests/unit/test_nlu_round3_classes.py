"""Issue 7, third round: the classes behind the misses of another never-tuned blind set.

Each case is a phrasing of our own for a class (never a blind-set sentence): asking WHERE
to do a cancellation is not asking which carrier to choose; a carrier change that gives
the number up is a plain cancellation; cancelling now or waiting till the month's end is
a timing question, not the blacklist one; "I only just started, can I cancel yet?" is the
minimum period, with the start date taken; undoing a cancellation said with an undo verb
(Kansai negation included) is withdrawing it; switching TO eSIM is not cancelling it."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from core.clock import JST
from core.dialogue import default_dialogue
from core.intent import DateRole, Expectation, Intent, IntentKind
from core.nlu import understand
from core.nlu.lexicon import TOPIC_IDS, LexiconError, parse_lexicon
from core.session import Session
from tests.first_messages import taken_of

TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=JST)


def first(text: str) -> Intent:
    return understand(text, Expectation(node="menu"), TODAY)


def topic(text: str) -> str | None:
    intent = first(text)
    return intent.value if intent.kind is IntentKind.TOPIC else None


def lands(text: str) -> tuple[str, dict[str, str]]:
    """The node a first message leads to and the slots it filled, as core/turn.py runs it."""
    dialogue = default_dialogue()
    menu = Session(node="menu", flow_version=dialogue.flow_version)
    intent = understand(text, dialogue.expectation(menu), TODAY)
    session, _ = dialogue.step(menu, intent, NOW)
    assert session is not None
    return session.node, dict(session.answers)


# ---- 1. where to start a cancellation is no choice of carrier ---------------------------


@pytest.mark.parametrize(
    "text",
    [
        "解約ってどこからやればいいの？",
        "やめたいんですが、どこで手続きすればいいですか",
        "実家に戻るので今のスマホは使わなくなります。番号も要らないです。"
        "解約の手続きはどこですればいいでしょうか？",
        "夫の扶養に入ることになって自分の回線は不要になりました。解約はどこから申し込めばいいですか",
        # A question topic said where nothing is asked is no question about it.
        "次の会社はもう決めてあります。番号は引き継がないので、IIJの解約方法だけ教えて",
        "来月から妻のauの家族割に入るので、こちらは使いません。番号も新しくなります。解約はどうすれば？",
    ],
)
def test_where_to_cancel_is_the_cancel_topic(text: str) -> None:
    assert topic(text) == "cancel"


@pytest.mark.parametrize(
    "text",
    [
        "解約したら次はどこがいいと思いますか",
        "乗り換えるならどこの会社がいい？",
        "次に使う格安SIMはどこにしたらいいかな",
    ],
)
def test_choosing_where_to_go_is_still_next_carrier(text: str) -> None:
    assert topic(text) == "next_carrier"


# ---- 2. moving to another carrier without the number is a plain cancel -----------------


@pytest.mark.parametrize(
    ("text", "carrier"),
    [
        (
            "電話番号は新しくなってかまわないので楽天モバイルに移ります。こちらは何をすればいいですか",
            "rakuten",
        ),
        ("番号はいらないからahamoに行きたい。IIJmioのほうの手続きは？", "ahamo"),
        ("番号が変わっても平気なのでドコモへ移りたいです", "docomo"),
    ],
)
def test_a_carrier_change_giving_the_number_up_is_a_cancel(text: str, carrier: str) -> None:
    intent = first(text)
    assert (intent.kind, intent.value) == (IntentKind.TOPIC, "cancel")
    assert intent.facts.carrier == carrier
    assert intent.facts.keep_number is False


def test_a_carrier_change_keeping_the_number_is_still_mnp() -> None:
    assert topic("番号そのままでドコモに移りたい") == "mnp"


# ---- 3. now or at the month's end is a timing question ---------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "すぐ解約するより月末まで待つほうがお得ですか",
        "今すぐ解約と月末に解約、料金的に得なのは？",
        "月末を待たずに今すぐ解約しても損しない？",
        "月末まで待つ方が安い？それとも今すぐ解約でいい？",
    ],
)
def test_cancelling_now_or_at_month_end_is_not_the_blacklist(text: str) -> None:
    intent = first(text)
    assert "blacklist" not in (intent.value, *intent.candidates)
    assert intent.kind is IntentKind.TOPIC and intent.value in ("end_date", "cancel")


@pytest.mark.parametrize(
    "text",
    [
        "すぐ解約しても大丈夫？",
        "契約してすぐ解約したらブラックリストに載りますか",
        "短期解約って何か問題ありますか",
    ],
)
def test_cancelling_soon_after_signing_is_still_the_blacklist(text: str) -> None:
    assert topic(text) == "blacklist"


# ---- 4. only just started: can I cancel yet? is the minimum period ---------------------


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("一昨日回線が開通したばかりですが、もう解約はできますか", date(2026, 11, 23)),
        ("今月10日に使い始めたばっかりなんだけど、もう解約できる？", date(2026, 11, 10)),
        ("昨日開通したばっかりだけど解約って可能？", date(2026, 11, 24)),
    ],
)
def test_just_started_and_can_i_cancel_is_min_period(text: str, start: date) -> None:
    intent = first(text)
    assert (intent.kind, intent.value) == (IntentKind.TOPIC, "min_period")
    assert intent.date == start
    assert any(d.role is DateRole.START and d.date == start for d in intent.facts.dates)


def test_just_started_reaches_the_min_period_answer_with_the_date() -> None:
    node, answers = lands("一昨日回線が開通したばかりですが、もう解約はできますか")
    assert node == "min_period_answer"
    assert answers.get("start_date") == "2026-11-23"


@pytest.mark.parametrize(
    "text",
    [
        "SIMが届いたばかりだけどキャンセルしたい",
        "おととい届いたんだけど、契約ごとなかったことにできる？",
        "先週届いたSIM、契約をなかったことにできない？",
    ],
)
def test_undoing_a_contract_just_received_is_still_the_initial_cancellation(text: str) -> None:
    assert topic(text) == "initial"


# ---- 5. undoing a cancellation already made ---------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "うっかり解約してもうた、取り消しでけへん？",
        "解約の申し込み、なしにしてほしいんやけど",
        "さっき解約したけど、やっぱりなかったことにできひん？",
        "間違って解約ボタンを押しちゃった。なしにできますか",
        "解約を取りやめたいです",
        "出した解約、撤回できへんかな",
    ],
)
def test_undoing_a_cancellation_is_withdraw(text: str) -> None:
    assert topic(text) == "withdraw"


@pytest.mark.parametrize(
    "text",
    [
        "マイページで解約でけへん",
        "解約ボタン押しても先に進まへんのやけど",
    ],
)
def test_a_cancellation_that_will_not_go_through_is_still_cannot_cancel(text: str) -> None:
    assert topic(text) == "cannot_cancel"


# ---- 6. switching to eSIM is not cancelling it ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "物理SIMからeSIMに変更したいです",
        "Pixelに買い替えたのでeSIMへ移行する方法は？",
        "eSIMの再発行ってどうやるの",
        "iPhoneをeSIMにしたいんですけど手順は？",
    ],
)
def test_switching_to_esim_is_off_topic(text: str) -> None:
    assert first(text).kind is IntentKind.OFF_TOPIC


@pytest.mark.parametrize(
    "text",
    [
        "eSIMを解約したい",
        "eSIMで使ってる回線をやめたい",
    ],
)
def test_leaving_with_an_esim_is_still_the_esim_topic(text: str) -> None:
    assert topic(text) == "esim"


@pytest.mark.parametrize(
    "text", ["eSIMに変えたけど、もう解約したい", "eSIMに移行したあと回線ごとやめたい"]
)
def test_switching_to_esim_and_leaving_is_not_off_topic(text: str) -> None:
    assert topic(text) in ("esim", "cancel")


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("使い始めてまだ一週間なんだけど、もう解約できるの？", date(2026, 11, 18)),
        # N日 right after a verb's て is days since, never the Nth of the month.
        ("開通して5日ですが解約できますか", date(2026, 11, 20)),
        ("開通してまだ3日なんだけど、もう解約できるんかな", date(2026, 11, 22)),
    ],
)
def test_started_some_days_ago_and_can_i_cancel_is_min_period(text: str, start: date) -> None:
    intent = first(text)
    assert (intent.kind, intent.value, intent.date) == (IntentKind.TOPIC, "min_period", start)


def test_days_since_receipt_after_te_is_a_length_of_time() -> None:
    intent = first("SIMが届いてから3日です。初期契約解除できますか")
    assert (intent.value, intent.date) == ("initial", date(2026, 11, 22))


def test_just_signed_and_can_i_cancel_asks_initial_or_min_period() -> None:
    intent = first("契約したばっかりなんだけど解約できる？")
    assert intent.kind is IntentKind.AMBIGUOUS
    assert {"initial", "min_period"} <= set(intent.candidates)


def test_switching_to_esim_with_a_new_phone_is_off_topic() -> None:
    assert first("eSIMに機種変更したい").kind is IntentKind.OFF_TOPIC


# ---- the same classes, said other ways ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # 今すぐ is "right now", not "soon after signing up".
        ("今すぐ解約したい", "cancel"),
        ("今すぐ解約したら今月分は日割りになる？", "proration"),
        ("すぐやめるより月末まで使ったほうが得ですか", "end_date"),
        # A number the customer does not care about is given up.
        ("電話番号にこだわりはないのでワイモバイルへ行きます。IIJの方は？", "cancel"),
        # Undoing, with the ability negated in the next clause or the application stopped.
        ("解約手続きを取り消したい、でけへん？", "withdraw"),
        ("解約申し込みをやめたい", "withdraw"),
    ],
)
def test_the_classes_said_other_ways(text: str, want: str) -> None:
    assert topic(text) == want


def test_lexicon_refuses_a_veto_handing_its_score_to_no_topic() -> None:
    topics = {tid: {"label": tid, "terms": {tid: 3}} for tid in TOPIC_IDS}
    topics["mnp"]["vetoed_to"] = "nowhere"
    with pytest.raises(LexiconError, match="vetoed_to"):
        parse_lexicon({"topics": topics})


# ---- safety net: a weak specific word beside a stronger plain cancel is asked about -----


@pytest.mark.parametrize("text", ["機種ごと解約したい", "スマホ本体ごと解約したいです"])
def test_a_weak_topic_outscored_by_the_plain_cancel_is_asked(text: str) -> None:
    intent = first(text)
    assert intent.kind is IntentKind.AMBIGUOUS
    assert intent.candidates == ("device", "cancel")


def test_the_weak_topic_question_offers_both_as_buttons() -> None:
    dialogue = default_dialogue()
    menu = Session(node="menu", flow_version=dialogue.flow_version)
    intent = understand("機種ごと解約したい", dialogue.expectation(menu), TODAY)
    _, reply = dialogue.step(menu, intent, NOW)
    # Asked, not answered with the instalments card: both topics are buttons.
    assert taken_of(reply) == "ask:device+cancel"


# ---- days counted from an event are a length of time -------------------------------------


@pytest.mark.parametrize(
    ("text", "role", "day"),
    [
        ("開通から5日ですが解約できますか", DateRole.START, date(2026, 11, 20)),
        ("契約から3日目なんだけど解約できる？", DateRole.START, date(2026, 11, 23)),
        ("SIM到着から2日です。初期契約解除したい", DateRole.RECEIPT, date(2026, 11, 23)),
    ],
)
def test_days_counted_from_an_event_are_no_day_of_the_month(
    text: str, role: DateRole, day: date
) -> None:
    said = [(d.role, d.date) for d in first(text).facts.dates]
    assert said == [(role, day)]
