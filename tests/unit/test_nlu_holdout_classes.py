"""Issue 7, second round: the classes behind the misses of a never-tuned holdout.

Each case is a phrasing of our own for a class (never a holdout sentence): a negation
written after a verb stem (引き継がずに, 乗り換えないで), a message that says the customer
has several lines and picks one, cancelling said with other verbs (止めたい, 手放したい),
and asking HOW to do a topic (手順, やり方, 方法), which is not asking whom to contact."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from core.clock import JST
from core.dialogue import default_dialogue
from core.intent import Expectation, Intent, IntentKind
from core.nlu import understand
from core.nlu.facts import extract_facts
from core.session import Session

TODAY = date(2026, 11, 25)


def first(text: str) -> Intent:
    return understand(text, Expectation(node="menu"), TODAY)


def topic(text: str) -> str | None:
    intent = first(text)
    return intent.value if intent.kind is IntentKind.TOPIC else None


# ---- 1. a negation after a verb stem takes the number back ------------------------------


@pytest.mark.parametrize(
    ("text", "keep"),
    [
        ("電話番号を引き継がずにやめるつもりです", False),
        ("今の番号は引き継がず、普通に解約でお願いします", False),
        ("MNPせずに解約します", False),
        ("転出せず解約だけ", False),
        ("番号を持っていかないで解約したいです", False),
        ("番号は引き継がなくていいです", False),
        ("番号を引き継がなくて大丈夫です", False),
        ("電話番号は引き継ぎません", False),
        ("番号の引き継ぎはしません", False),
        ("転出はしなくていいので解約だけ", False),
        ("番号の移行は要りません", False),
        ("番号の引継ぎは不要です", False),
        ("MNPは不要です", False),
        ("MNPはいいので普通の解約で", False),
        ("MNPはいらないです", False),
        # The positive forms still state it, and a stem followed by a wish is no negation.
        ("番号は引き継ぎたいです", True),
        ("番号の引き継ぎをお願いしたい", True),
        ("電話番号は今のまま使いたい", True),
        ("MNPでできないことはありますか", True),
    ],
)
def test_negation_after_a_verb_stem_states_the_opposite(text: str, keep: bool) -> None:
    assert extract_facts(text, TODAY).keep_number is keep


@pytest.mark.parametrize(
    "text",
    [
        "番号を持ち運ばずに解約するつもりです。最後に使える日はいつですか",
        "番号は引き継がないで解約します、いつまで電話できますか",
    ],
)
def test_a_refused_number_does_not_lead_to_the_mnp_end_date(text: str) -> None:
    # The end-date answer differs for MNP: a refused number must not pick the MNP one.
    dialogue = default_dialogue()
    menu = Session(node="menu", flow_version=dialogue.flow_version)
    intent = understand(text, dialogue.expectation(menu), TODAY)
    assert (intent.kind, intent.value) == (IntentKind.TOPIC, "end_date")
    s, _ = dialogue.step(menu, intent, datetime(2026, 11, 25, 10, 0, tzinfo=JST))
    assert s is not None and s.node == "end_date_cancel"


@pytest.mark.parametrize(
    "text",
    [
        "転出せずに解約したい",
        "乗り換えずに解約だけしたいです",
        "他社に乗り換えないで解約します",
        "MNPは不要なので解約したい",
        "MNPはいらないので解約の手順を教えて",
        "番号の引き継ぎはしないで解約したい",
        "電話番号を引き継がなくていいから解約の仕方を教えて",
        "ドコモに乗り換えずに解約します",
        "MNPしなくていいので解約したいです",
    ],
)
def test_a_negated_mnp_word_leaves_the_plain_cancel(text: str) -> None:
    assert topic(text) == "cancel"


@pytest.mark.parametrize(
    "text",
    [
        "MNPワンストップなら予約番号はいらないって聞きました",
        "乗り換えなくてはいけないですか",
        "他社に乗り換えたいです",
    ],
)
def test_what_only_looks_like_a_refusal_stays_mnp(text: str) -> None:
    assert topic(text) == "mnp"


def test_a_noun_followed_by_ga_nai_is_not_taken_back() -> None:
    # 違約金がない is "there is no fee", not a refusal of the topic.
    assert topic("違約金がないなら今月中に解約したい") == "fees"


# ---- 2. several lines, one of them picked ---------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "3つ持っている回線のうち1つだけ解約したい",
        "2本ある回線の片方をやめたいです",
        "回線が二つあって、新しいほうだけ解約したい",
        "息子の回線だけ解約できますか",
        "サブ回線だけ解約したい",
        "複数契約しているうちの1回線だけ解約したい",
        "2つの回線を契約していて、1つ解約したい",
    ],
)
def test_one_of_several_lines_is_multi_line(text: str) -> None:
    assert topic(text) == "multi_line"


def test_a_single_line_is_still_the_plain_cancel() -> None:
    assert topic("回線を解約したいです") == "cancel"


# ---- 3. cancelling said with other verbs ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "スマホの回線を止めたいです",
        "iijmioの回線を手放したい",
        "iijとの契約を終わりにしたい",
        "回線を切りたいです",
        "IIJmioの契約を解除したい",
        "もうIIJmioは止めます",
        "そろそろIIJmioを卒業したいです",
        "回線を止めたいんですが、どうすればいいですか",
    ],
)
def test_cancel_said_with_other_verbs(text: str) -> None:
    assert topic(text) == "cancel"


def test_a_cancel_verb_with_no_number_wanted() -> None:
    intent = first("回線を切りたいです。番号の移行は要りません")
    assert (intent.kind, intent.value) == (IntentKind.TOPIC, "cancel")
    assert intent.facts.keep_number is False


# ---- 4. asking how, not whom ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "番号そのままで他社に移るやり方を知りたい",
        "MNP転出の方法が知りたいです",
        "今の番号のままドコモへ移る手順を教えて",
        "電話番号は変えたくないので、乗り換えのやり方を知りたいです",
        "電話番号はこのまま使うつもりなので、転出の方法を教えてください",
    ],
)
def test_how_to_do_a_topic_is_that_topic(text: str) -> None:
    assert topic(text) == "mnp"


@pytest.mark.parametrize(
    "text",
    [
        "転出のことで窓口に電話したい",
        "サポートに連絡して転出の相談をしたい",
        "問い合わせ先の電話番号を知りたい",
    ],
)
def test_wanting_to_contact_someone_is_support(text: str) -> None:
    assert topic(text) == "support"
