"""Free-text dates: every accepted form, impossible dates and the year rule."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.nlu import parse_date
from core.nlu.dates import FUTURE_WINDOW_DAYS, infer_year

TODAY = date(2026, 6, 10)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026年6月20日", date(2026, 6, 20)),
        ("2026/6/20", date(2026, 6, 20)),
        ("2026-06-20", date(2026, 6, 20)),
        ("2026.6.20", date(2026, 6, 20)),
        ("２０２６／６／２０", date(2026, 6, 20)),
        ("２０２６年６月２０日", date(2026, 6, 20)),
        ("2025年11月3日", date(2025, 11, 3)),
        ("6/20", date(2026, 6, 20)),
        ("６月２０日", date(2026, 6, 20)),
        ("6月1日", date(2026, 6, 1)),
        ("20日", date(2026, 6, 20)),
        ("1日", date(2026, 6, 1)),
        ("令和8年6月20日", date(2026, 6, 20)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("R8.6.20", date(2026, 6, 20)),
        ("r8/6/20", date(2026, 6, 20)),
        ("Ｒ８．６．２０", date(2026, 6, 20)),
        ("平成30年4月1日", date(2018, 4, 1)),
        ("H31.4.30", date(2019, 4, 30)),
        ("今日", TODAY),
        ("本日", TODAY),
        ("きょう", TODAY),
        ("昨日", date(2026, 6, 9)),
        ("一昨日", date(2026, 6, 8)),
        ("おととい", date(2026, 6, 8)),
        ("明日", date(2026, 6, 11)),
        ("先月20日", date(2026, 5, 20)),
        ("今月20日", date(2026, 6, 20)),
        ("来月1日", date(2026, 7, 1)),
        ("来月の1日", date(2026, 7, 1)),
        ("先月末", date(2026, 5, 31)),
        ("今月末", date(2026, 6, 30)),
        ("3日前", date(2026, 6, 7)),
        ("六月二十日", date(2026, 6, 20)),
        ("26/6/20", date(2026, 6, 20)),
    ],
)
def test_forms(text: str, expected: date) -> None:
    got = parse_date(text, TODAY)
    assert got.date == expected
    assert not got.bad
    assert got.matched


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("6月20日に契約しました", date(2026, 6, 20)),
        ("えっと、たしか5/28に届きました！", date(2026, 5, 28)),
        ("受け取ったのは昨日です", date(2026, 6, 9)),
        ("開始日は令和8年4月1日だったと思う", date(2026, 4, 1)),
        ("先月の末に申し込んだ", date(2026, 5, 31)),
    ],
)
def test_dates_inside_sentences(sentence: str, expected: date) -> None:
    assert parse_date(sentence, TODAY).date == expected


@pytest.mark.parametrize(
    "text",
    ["2月30日", "13/1", "2026/2/29", "2026年13月1日", "6月31日", "31日", "0/5", "令和0年1月1日"],
)
def test_impossible_dates_are_bad(text: str) -> None:
    got = parse_date(text, TODAY)
    assert got.bad
    assert got.date is None


@pytest.mark.parametrize(
    "text", ["解約したい", "8日以内に解約", "1回線だけ", "", "2回目です", "10分かけ放題"]
)
def test_no_date(text: str) -> None:
    got = parse_date(text, TODAY)
    assert got.date is None
    assert not got.bad


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        # Past occurrences win: start and receipt dates lie behind us.
        (date(2026, 6, 10), "12/25", date(2025, 12, 25)),
        (date(2026, 1, 10), "12/25", date(2025, 12, 25)),
        (date(2026, 6, 10), "6/10", date(2026, 6, 10)),
        (date(2026, 6, 10), "6/9", date(2026, 6, 9)),
        # ...unless the date is coming up within about two months.
        (date(2026, 6, 10), "6/11", date(2026, 6, 11)),
        (date(2026, 6, 10), "8/1", date(2026, 8, 1)),
        (date(2025, 12, 20), "1/5", date(2026, 1, 5)),
        # Further ahead than that it is last year's.
        (date(2026, 6, 10), "9/1", date(2025, 9, 1)),
        # 2/29 exists in the nearest past leap year only.
        (date(2028, 6, 10), "2/29", date(2028, 2, 29)),
    ],
)
def test_year_inference(today: date, text: str, expected: date) -> None:
    assert parse_date(text, today).date == expected


def test_future_window_boundary() -> None:
    today = date(2026, 6, 10)
    edge = date.fromordinal(today.toordinal() + FUTURE_WINDOW_DAYS)
    beyond = date.fromordinal(edge.toordinal() + 1)
    assert infer_year(edge.month, edge.day, today) == edge
    assert infer_year(beyond.month, beyond.day, today) == beyond.replace(year=beyond.year - 1)


def test_feb_29_without_a_leap_year_near_is_bad() -> None:
    assert parse_date("2/29", date(2026, 6, 10)).bad


def test_relative_month_across_year_boundary() -> None:
    assert parse_date("先月20日", date(2026, 1, 5)).date == date(2025, 12, 20)
    assert parse_date("来月末", date(2026, 12, 5)).date == date(2027, 1, 31)
    assert parse_date("先月末", date(2024, 3, 15)).date == date(2024, 2, 29)


@given(st.text(), st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)))
def test_never_raises(text: str, today: date) -> None:
    got = parse_date(text, today)
    assert got.date is None or isinstance(got.date, date)
    assert not (got.bad and got.date is not None)


@given(st.text(alphabet="0123456789/年月日.-令和R元先今来末", max_size=30))
def test_date_like_noise_never_raises(text: str) -> None:
    parse_date(text, TODAY)


# TODAY is Wednesday 2026-06-10.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("先週の金曜", date(2026, 6, 5)),
        ("今週の月曜", date(2026, 6, 8)),
        ("来週の月曜日", date(2026, 6, 15)),
        ("金曜日に届いた", date(2026, 6, 5)),  # the last Friday before today
        ("水曜", date(2026, 6, 3)),  # today's weekday means last week's
        ("この前の日曜", date(2026, 6, 7)),
        ("2週間前", date(2026, 5, 27)),
        ("1週間後", date(2026, 6, 17)),
        ("1か月前", date(2026, 5, 10)),
        ("去年の12月1日", date(2025, 12, 1)),
        ("今年の1月5日", date(2026, 1, 5)),
        ("来年の3月末", date(2027, 3, 31)),
        ("7月末", date(2026, 7, 31)),  # coming up soon
        ("2月末", date(2026, 2, 28)),  # otherwise the last one
        ("10日くらい", date(2026, 6, 10)),  # the whole answer: about the 10th
        ("12日ぐらいです", date(2026, 6, 12)),
    ],
)
def test_relative_forms_customers_use(text: str, expected: date) -> None:
    got = parse_date(text, TODAY)
    assert got.date == expected, got


@pytest.mark.parametrize(
    "text", ["月初", "6月の頭", "上旬", "先週", "6月", "2019年に契約", "今月", "月の半ば"]
)
def test_vague_periods_are_asked_again(text: str) -> None:
    got = parse_date(text, TODAY)
    assert got.bad and got.vague and got.date is None


def test_a_duration_is_not_a_day() -> None:
    assert parse_date("10日くらい使いました", TODAY).date is None


# Issue 7 class 1: N日 with 経って / たって / 前 / しか / 目 / 間 / くらい is a length of time,
# never "the Nth of this month" (which told customers an 8-day deadline had passed).
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("届いてから5日たちました", date(2026, 6, 5)),
        ("4日前に契約した", date(2026, 6, 6)),
        ("契約してまだ3日しか経ってない", date(2026, 6, 7)),
        ("契約して5日経ったけど", date(2026, 6, 5)),
        ("開通して2日目です", date(2026, 6, 9)),  # the first day is day 1
        ("届いて1日目", date(2026, 6, 10)),
        ("使い始めて2週間", date(2026, 5, 27)),
        ("三日前に届いた", date(2026, 6, 7)),
        ("半年前に契約", date(2025, 12, 10)),
        ("I started on Nov 10", date(2025, 11, 10)),
        ("received it on June 5th", date(2026, 6, 5)),
        ("二週間前に契約", date(2026, 5, 27)),
    ],
)
def test_lengths_of_time_count_back_from_today(text: str, expected: date) -> None:
    got = parse_date(text, TODAY)
    assert got.date == expected, got


@pytest.mark.parametrize(
    ("text", "candidates"),
    [
        ("使い始めて2週間くらい", (date(2026, 5, 24), date(2026, 5, 27), date(2026, 5, 30))),
        ("1か月くらい前に契約", (date(2026, 5, 3), date(2026, 5, 10), date(2026, 5, 17))),
        ("10日くらい前", (date(2026, 5, 30), date(2026, 5, 31), date(2026, 6, 1))),
        ("届いて5日ほど", (date(2026, 6, 4), date(2026, 6, 5), date(2026, 6, 6))),
        ("1日くらい前", (date(2026, 6, 8), date(2026, 6, 9), date(2026, 6, 10))),
    ],
)
def test_rough_lengths_of_time_offer_the_likely_days(
    text: str, candidates: tuple[date, ...]
) -> None:
    # A guessed day could deny a legal right (初期契約解除 counts days): ask, with buttons.
    got = parse_date(text, TODAY)
    assert got.date is None and got.vague and got.candidates == candidates, got


def test_a_rough_day_of_the_month_is_still_that_day() -> None:
    got = parse_date("20日くらいに契約しました", TODAY).date
    assert got is not None and got.day == 20


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2026年6月の20日", date(2026, 6, 20)),
        ("6月の20日", date(2026, 6, 20)),
        ("2026年の6月20日", date(2026, 6, 20)),
        ("えーと、たしか今年の6月の20日くらいに契約したと思います", date(2026, 6, 20)),
    ],
)
def test_the_particle_between_year_month_and_day_is_ignored(text: str, want: date) -> None:
    # Left in, の made the day be read alone: 6月の20日 became this month's 20th.
    assert parse_date(text, date(2026, 11, 24)).date == want
