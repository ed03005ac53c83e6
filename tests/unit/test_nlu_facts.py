"""Facts stated in a customer's message: the extractor reads what is said and never guesses."""

from __future__ import annotations

import statistics
import time
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.intent import Facts
from core.nlu.facts import extract_facts, parse_amount

TODAY = date(2026, 11, 24)


def facts(text: str) -> Facts:
    return extract_facts(text, TODAY)


@pytest.mark.parametrize(
    ("text", "plan"),
    [
        ("ギガプランだけど違約金かかる？", "giga"),
        ("ｷﾞｶﾞﾌﾟﾗﾝを使っています", "giga"),  # half-width katakana
        ("ぎがぷらんです", "giga"),
        ("5ギガのプランなんですが解約金は？", "giga"),
        ("10GBプランです", "giga"),
        ("mioモバイルの解約手数料", "mio"),
        ("ｍｉｏモバイル契約中", "mio"),  # full-width latin
        ("旧プランの音声SIMで違約金ある？", "old"),
        ("ミニマムスタートプランをやめたい", "old"),
        ("ライトスタートプランの解約", "old"),
        ("ファミリーシェアプラン使ってます", "old"),
        ("昔のプランのままなんですけど", "old"),
    ],
)
def test_plan_named_in_the_message(text: str, plan: str) -> None:
    assert facts(text).plan == plan


@pytest.mark.parametrize(
    "text",
    [
        "違約金かかる？",
        "IIJmioモバイルサービスを解約したい",  # the company's service, not the mio plan
        "ギガが足りないので解約したい",  # data allowance, not the plan name
        "ギガプランじゃなくて旧プランだと思う",  # contrast drops ギガプラン ...
        "ギガプランか旧プランか分かりません",  # two plans: unknown, not a guess
    ],
)
def test_no_plan_or_no_guess(text: str) -> None:
    expected = "old" if "じゃなくて" in text else None
    assert facts(text).plan == expected


@pytest.mark.parametrize(
    ("text", "sim"),
    [
        ("音声SIMの違約金", "voice"),
        ("音声通話SIMです", "voice"),
        ("通話SIMを解約したい", "voice"),
        ("音声付きのプランです", "voice"),
        ("データSIMなので番号はありません", "data"),
        ("ﾃﾞｰﾀSIMです", "data"),
        ("データ専用です", "data"),
        ("データ通信のみの契約", "data"),
        ("SMS付きのSIMです", "sms"),
        ("データ・SMS SIM", "sms"),
        ("eSIMの解約方法", "esim"),
        ("ｅＳＩＭです", "esim"),
        ("イーシムやめたい", "esim"),
        ("データSIMを音声に変えたい。交換って有料？", "data"),  # what they have now
    ],
)
def test_sim_type(text: str, sim: str) -> None:
    assert facts(text).sim == sim


@pytest.mark.parametrize(
    ("text", "keep"),
    [
        ("番号そのままドコモに行きたい", True),
        ("番号をそのまま使いたい", True),
        ("番号を引き継ぎたいです", True),
        ("今の番号のまま乗り換えたい", True),
        ("同じ番号で他社に移りたい", True),
        ("MNPで乗り換えたい", True),
        ("ＭＮＰしたい", True),
        ("MNP予約番号の取り方", True),
        ("転出したいです", True),
        ("番号を変えたくない", True),  # negated "change the number": keep it
        ("番号を変えないで乗り換えたい", True),
        ("番号はいらない", False),
        ("番号もいらないので解約の手順を教えて", False),
        ("番号いらないです", False),
        ("番号は不要です", False),
        ("番号は変わっていいのでドコモへ", False),
        ("番号が変わってもかまいません", False),
        ("MNPはしない", False),
        ("MNPしないで解約だけしたい", False),
        ("転出じゃなくて解約だけしたい", False),
        ("解約だけしたいです", False),
        ("番号を引き継がない", False),
        ("番号を残さずに解約", False),
        ("MNPで番号そのまま", True),
        ("MNPしたいけど番号はいらない", None),  # contradicts itself: unknown
        ("解約したい", None),
        ("転入先で予約番号いらないって言われたけどほんと？", None),  # MNPワンストップ
        ("MNP予約番号はいらないんですか", True),  # MNP is named; the reservation number is not
        ("暗証番号を変えたい", None),
        ("番号かえずにソフバンいきたい", True),
        ("今の電話番号のまま楽天に移りたい", True),
        ("auに移るけど番号は新しくなっても構いません", False),
        ("新しい番号でいいので解約したい", False),
    ],
)
def test_keep_number_with_negation(text: str, keep: bool | None) -> None:
    assert facts(text).keep_number is keep


def test_keep_number_negation_stops_at_the_clause() -> None:
    # The ない belongs to the next clause, not to MNP.
    assert facts("MNPしたい。手数料はかからないですか").keep_number is True
    assert facts("MNPできないんですけど").keep_number is True  # a problem, not a refusal


@pytest.mark.parametrize(
    ("text", "carrier"),
    [
        ("ドコモに乗り換えたい", "docomo"),
        ("docomoへMNP", "docomo"),
        ("ＤＯＣＯＭＯにします", "docomo"),
        ("auに乗り換え", "au"),
        ("ソフトバンクへ移ります", "softbank"),
        ("ｿﾌﾄﾊﾞﾝｸに行く", "softbank"),
        ("楽天モバイルに乗り換えたい", "rakuten"),
        ("楽天に乗り換え", "rakuten"),
        ("ワイモバイルにMNP", "ymobile"),
        ("Y!mobileへ", "ymobile"),
        ("UQモバイルに変えます", "uq"),
        ("povoにしたい", "povo"),
        ("ahamoへ乗り換え", "ahamo"),
        ("LINEMOに移る", "linemo"),
        ("mineoにMNPしたい", "mineo"),
        ("ドコモからauに乗り換え", "au"),  # from docomo, to au
        ("ドコモじゃなくてauにします", "au"),
        ("番号は変わっていいのでドコモへ", "docomo"),
    ],
)
def test_destination_carrier(text: str, carrier: str) -> None:
    assert facts(text).carrier == carrier


@pytest.mark.parametrize(
    "text",
    [
        "ソフトバンクから乗り換えてきました",  # where they came from
        "どこも高いので解約したい",  # どこも (anywhere) is not ドコモ
        "楽天カードで払っています",
        "au payの残高",
        "audioが聞こえない",
        "ドコモかauで迷ってます",  # two carriers: no guess
    ],
)
def test_no_carrier(text: str) -> None:
    assert facts(text).carrier is None


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ("通話定額だけ解約したい", "通話定額"),
        ("つーわていがくをやめたい", "通話定額"),  # long-vowel spelling
        ("かけ放題はいらない", "通話定額"),  # an option is named to be cancelled
        ("ｶｹﾎｳﾀﾞｲ解約", "通話定額"),
        ("5分かけ放題やめたい", "5分かけ放題"),
        ("10分かけ放題を解約", "10分かけ放題"),
        ("完全かけ放題を外したい", "完全かけ放題"),
        ("留守電のオプションを解約", "留守番電話"),
        ("端末補償だけやめる", "端末補償"),
        ("かけ放題じゃなくて留守番電話を解約", "留守番電話"),
    ],
)
def test_option_named(text: str, option: str) -> None:
    assert facts(text).option == option


def test_no_option_when_none_is_named() -> None:
    assert facts("オプションは残して回線だけ解約").option is None


@pytest.mark.parametrize(
    ("text", "yen"),
    [
        ("1,078円", 1078),
        ("１，０７８円です", 1078),
        ("月額990えん", 990),
        ("千円くらい", 1000),
        ("千五百円です", 1500),
        ("2千円", 2000),
        ("二千五百円くらいかな", 2500),
        ("¥2,000", 2000),
        ("￥１５００", 1500),
        ("1078", 1078),  # a bare amount as the whole answer
        ("1,078", 1078),
        ("850くらい", 850),
        ("1万円", 10000),
        ("990 円", 990),
    ],
)
def test_typed_amounts(text: str, yen: int) -> None:
    assert facts(text).amount_yen == yen


@pytest.mark.parametrize(
    "text",
    [
        "6月20日から使ってる",
        "2",  # a button number, not an amount
        "20",
        "11/20",  # a date, not 1120円
        "2019/4/1",
        "2026-06-20",
        "09012345678",  # a phone number
        "1,000円か2,000円",  # two amounts: no guess
        "解約したい",
    ],
)
def test_no_amount(text: str) -> None:
    assert facts(text).amount_yen is None


def test_parse_amount_forms() -> None:
    assert parse_amount("1,078") == 1078
    assert parse_amount("千") == 1000
    assert parse_amount("一万二千") == 12000
    assert parse_amount("85,0") is None  # not a thousands grouping


def test_several_facts_in_one_long_message() -> None:
    text = (
        "旧プランの音声SIMを使っています。番号は変わっていいのでドコモへ行きます。"
        "かけ放題も付けていて、月額1,078円です。違約金はかかりますか？"
    )
    assert facts(text) == Facts(
        plan="old",
        sim="voice",
        keep_number=False,
        carrier="docomo",
        option="通話定額",
        amount_yen=1078,
    )


@pytest.mark.parametrize("text", ["", "   ", "😀", "？？？", "a" * 20000, "\u200b"])
def test_nothing_stated_is_empty(text: str) -> None:
    assert not facts(text).any()


def test_fast_enough_for_every_message() -> None:
    texts = [
        "ギガプランだけど違約金かかる？",
        "夫の会社で携帯が支給されるので、今のスマホはもう使いません。番号もいらないので、"
        "解約の手順を教えてください",
        "解約",
        "天気どう？",
        "番号そのままドコモに行きたい",
    ] * 40
    facts(texts[0])  # loading is paid once per process, not per message
    times = []
    for t in texts:
        start = time.perf_counter()
        facts(t)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.0002  # well inside understand's 0.2 ms median


@given(st.text(max_size=300))
def test_never_raises_and_states_only_known_values(text: str) -> None:
    f = facts(text)
    assert f.plan in (None, "giga", "mio", "old")
    assert f.sim in (None, "voice", "data", "sms", "esim")
    assert f.amount_yen is None or 0 < f.amount_yen <= 1_000_000
    assert f.dates == ()  # dates are core.nlu.dates' job
