"""Dates typed as free text: absolute, Japanese era, month/day, relative words.

Year-less dates ("6/20", "6月20日") take the year that puts them nearest the question's
purpose: the dates the bot asks for (line start, contract-notice receipt) are almost always
in the past, so the most recent past occurrence (today included) wins — unless the date's
next occurrence is at most ``FUTURE_WINDOW_DAYS`` ahead, which covers "I will receive it on
…" and planned cancellation days. A year-less date that exists in neither the nearest past
nor the nearest future year (2/29 outside leap years) is reported as bad.

Relative forms customers use are read exactly: 3日前, 2週間前, 1か月前, 先週の金曜, 金曜日
(the last one before today), 去年の12月1日, 12月末. "10日くらい" as the whole answer keeps
the day remembered (the 10th). Vague ones (月初, 上旬, 11月の頭, 先週, a month or a year
alone) are reported as bad and ``vague``: guessing a day would give a wrong answer, so
the bot asks again.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from core.nlu.normalize import normalize

FUTURE_WINDOW_DAYS = 62

# First year of each era: era year N is ERA_BASE + N - 1.
_ERA_START = {"令和": 2019, "r": 2019, "平成": 1989, "h": 1989, "昭和": 1926, "s": 1926}
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
_KANJI_DIGITS.update({"六": 6, "七": 7, "八": 8, "九": 9})


@dataclass(frozen=True)
class DateParse:
    date: date | None = None
    bad: bool = False  # looked like a date but is impossible or ambiguous
    matched: str = ""  # the piece of the normalised text read as a date
    vague: bool = False  # names a period, not a day (月初, 先週): ask for the day
    # A rough length of time ("2週間くらい前"): the days it most likely means, to offer.
    candidates: tuple[_dt.date, ...] = ()
    # How it was said: "point" (6/20, 今日), "ago" (3日前) or "elapsed" (届いて5日たった,
    # 3日目): which side of it a role word (契約した, 届いた) is looked for first.
    how: str = "point"
    start: int = -1  # where in the flattened text (see flatten) it was found
    end: int = -1

    @property
    def found(self) -> bool:
        return self.date is not None or self.bad


NOTHING = DateParse()


def _kanji_number(word: str) -> int | None:
    """一 … 九十九 in the plain positional style used for months and days (十一, 二十, 三十一)."""
    if not word:
        return None
    if "十" in word:
        tens_part, _, ones_part = word.partition("十")
        tens = _KANJI_DIGITS.get(tens_part, -1) if tens_part else 1
        ones = _KANJI_DIGITS.get(ones_part, -1) if ones_part else 0
        if tens < 0 or ones < 0 or "十" in ones_part:
            return None
        return tens * 10 + ones
    value = 0
    for ch in word:
        if ch not in _KANJI_DIGITS:
            return None
        value = value * 10 + _KANJI_DIGITS[ch]
    return value


_KANJI_NUM = re.compile(
    r"(?<![一二三四五六七八九十〇])([一二三四五六七八九十〇]{1,3})(?=[年月日週]|か月)"
)


def _arabic(text: str) -> str:
    # 一昨日 / 一日中 keep their meaning: only numerals directly before 年/月/日 are converted,
    # and 一昨日 has 昨 in between.
    def repl(m: re.Match[str]) -> str:
        n = _kanji_number(m.group(1))
        return m.group(0) if n is None else str(n)

    return _KANJI_NUM.sub(repl, text)


def _safe(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _shift_month(today: date, months: int) -> tuple[int, int]:
    index = today.year * 12 + (today.month - 1) + months
    return index // 12, index % 12 + 1


def infer_year(month: int, day: int, today: date) -> date | None:
    """The occurrence of month/day the bot means (see module docstring); None if impossible."""
    past = [d for y in (today.year - 1, today.year) if (d := _safe(y, month, day)) and d <= today]
    future = [d for y in (today.year, today.year + 1) if (d := _safe(y, month, day)) and d > today]
    if future and (future[0] - today).days <= FUTURE_WINDOW_DAYS:
        return future[0]
    if past:
        return past[-1]
    return future[0] if future else None


def _result(d: date | None, matched: str) -> DateParse:
    return DateParse(date=d, bad=d is None, matched=matched)


def _era(m: re.Match[str], today: date) -> DateParse:
    era, year_s, month, day = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
    era_year = 1 if year_s == "元" else int(year_s)
    if era_year < 1:
        return _result(None, m.group(0))
    return _result(_safe(_ERA_START[era] + era_year - 1, month, day), m.group(0))


def _full(m: re.Match[str], today: date) -> DateParse:
    return _result(_safe(int(m.group(1)), int(m.group(2)), int(m.group(3))), m.group(0))


def _two_digit_year(m: re.Match[str], today: date) -> DateParse:
    return _result(_safe(2000 + int(m.group(1)), int(m.group(2)), int(m.group(3))), m.group(0))


def _month_day(m: re.Match[str], today: date) -> DateParse:
    month, day = int(m.group(1)), int(m.group(2))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return _result(None, m.group(0))
    return _result(infer_year(month, day, today), m.group(0))


_MONTH_OFFSET = {"先月": -1, "前月": -1, "今月": 0, "当月": 0, "来月": 1, "翌月": 1}


def _relative_month(m: re.Match[str], today: date) -> DateParse:
    y, mo = _shift_month(today, _MONTH_OFFSET[m.group(1)])
    if m.group(3):
        return _result(_month_end(y, mo), m.group(0))
    return _result(_safe(y, mo, int(m.group(2))), m.group(0))


def _bare_month_end(m: re.Match[str], today: date) -> DateParse:
    return _result(_month_end(today.year, today.month), m.group(0))


_YEAR_OFFSET = {"一昨年": -2, "おととし": -2, "去年": -1, "昨年": -1, "今年": 0, "本年": 0}
_YEAR_OFFSET.update({"来年": 1, "翌年": 1})


def _relative_year(m: re.Match[str], today: date) -> DateParse:
    year = today.year + _YEAR_OFFSET[m.group(1)]
    month = int(m.group(2))
    if not 1 <= month <= 12:
        return _result(None, m.group(0))
    if m.group(4):
        return _result(_month_end(year, month), m.group(0))
    return _result(_safe(year, month, int(m.group(3))), m.group(0))


def _named_month_end(m: re.Match[str], today: date) -> DateParse:
    month = int(m.group(1))
    if not 1 <= month <= 12:
        return _result(None, m.group(0))
    # The year rule of a day, applied to the month's last day.
    ends = [_month_end(y, month) for y in (today.year - 1, today.year, today.year + 1)]
    ahead = [d for d in ends if d > today and (d - today).days <= FUTURE_WINDOW_DAYS]
    behind = [d for d in ends if d <= today]
    return _result(ahead[0] if ahead else behind[-1], m.group(0))


_WEEKDAYS = "月火水木金土日"
_WEEK_OFFSET = {"先々週": -2, "先週": -1, "今週": 0, "来週": 1}


def _weekday(m: re.Match[str], today: date) -> DateParse:
    wd = _WEEKDAYS.index(m.group(2))
    week = m.group(1)
    if week:
        monday = today - timedelta(days=today.weekday())
        return _result(monday + timedelta(days=7 * _WEEK_OFFSET[week] + wd), m.group(0))
    # A bare weekday is the last one before today (today would be said as 今日).
    back = (today.weekday() - wd) % 7 or 7
    return _result(today - timedelta(days=back), m.group(0))


def _vague(m: re.Match[str], today: date) -> DateParse:
    return DateParse(bad=True, matched=m.group(0), vague=True)


_DAY_WORDS = {
    "一昨日": -2,
    "おととい": -2,
    "昨日": -1,
    "きのう": -1,
    "今日": 0,
    "本日": 0,
    "きょう": 0,
    "明後日": 2,
    "あさって": 2,
    "明日": 1,
    "あした": 1,
}


def _day_word(m: re.Match[str], today: date) -> DateParse:
    return _result(today + timedelta(days=_DAY_WORDS[m.group(1)]), m.group(0))


# Words that make a length of time rough: 2週間くらい, 10日ほど, 1か月ちょっと.
APPROX = r"(?:くらい|ぐらい|位|ほど|程|近く|前後|ちょっと|ちょい|弱|強|あまり|余り|以上)"
# Words after N日 that make it a length of time, never "the Nth" (届いて5日たった).
ELAPSED = r"(?:経|たっ|たち|たつ|たと|しか|間|過ぎ|すぎ|経過|も|になる|になり|になった)"
_UNIT_DAYS = {"日": 1, "週": 7, "週間": 7}


def _back(today: date, unit: str, n: int) -> date:
    """``n`` units (日 / 週間 / か月) before ``today``; a month back keeps the day."""
    if unit in _UNIT_DAYS:
        return today - timedelta(days=_UNIT_DAYS[unit] * n)
    y, mo = _shift_month(today, -n)
    last = _month_end(y, mo)
    return last.replace(day=min(today.day, last.day))


def _rough(today: date, unit: str, n: int, matched: str, how: str) -> DateParse:
    """A rough length of time: the likely day and its neighbours (a day either side for
    days, three for weeks, a week for months), never in the future."""
    centre = _back(today, unit, n)
    spread = {"日": 1, "週": 3, "週間": 3}.get(unit, 7)
    days = (centre - timedelta(days=spread), centre, centre + timedelta(days=spread))
    cands = tuple(d for d in days if d <= today)
    return DateParse(bad=True, vague=True, matched=matched, candidates=cands, how=how)


def _nth_day(m: re.Match[str], today: date) -> DateParse:
    # 3日目: the first day counts as day 1, so day N began N-1 days ago.
    n = int(m.group(1))
    if not 1 <= n <= 3660:
        return _result(None, m.group(0))
    return replace(_result(today - timedelta(days=n - 1), m.group(0)), how="elapsed")


def _ago(m: re.Match[str], today: date) -> DateParse:
    n, unit, rough, side = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    if n > 3660 or (unit == "か月" and n > 120) or (unit in ("週", "週間") and n > 520):
        return _result(None, m.group(0))
    if side == "後":
        if unit in _UNIT_DAYS:
            return _result(today + timedelta(days=_UNIT_DAYS[unit] * n), m.group(0))
        y, mo = _shift_month(today, n)
        last = _month_end(y, mo)
        return _result(last.replace(day=min(today.day, last.day)), m.group(0))
    if rough:
        return _rough(today, unit, n, m.group(0), "ago")
    return replace(_result(_back(today, unit, n), m.group(0)), how="ago")


def _elapsed(m: re.Match[str], today: date) -> DateParse:
    n, unit, rough = int(m.group(1)), m.group(2), m.group(4)
    if n > 3660 or (unit == "か月" and n > 120) or (unit in ("週", "週間") and n > 520):
        return _result(None, m.group(0))
    if rough:
        return _rough(today, unit, n, m.group(0), "elapsed")
    return replace(_result(_back(today, unit, n), m.group(0)), how="elapsed")


# Events a length of time is counted from (開通から5日): never "from the 5th".
_EVENTS = ("開通", "契約", "開始", "到着", "受取", "受け取り", "購入", "申込", "申し込み", "加入")


def _since(m: re.Match[str], today: date) -> DateParse:
    n = int(m.group(1))
    if n > 3660:
        return _result(None, m.group(0))
    return replace(_result(today - timedelta(days=n), m.group(0)), how="elapsed")


def _day_only(m: re.Match[str], today: date) -> DateParse:
    return _result(_safe(today.year, today.month, int(m.group(1))), m.group(0))


_MONTHS_EN = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _english_month_day(m: re.Match[str], today: date) -> DateParse:
    month = _MONTHS_EN.index(m.group(1)) + 1
    return _result(infer_year(month, int(m.group(2)), today), m.group(0))


_Reader = Callable[[re.Match[str], date], DateParse]
# Most specific first: a full date must not be read as its month/day tail.
_PATTERNS: tuple[tuple[re.Pattern[str], _Reader], ...] = (
    (
        re.compile(
            r"(令和|平成|昭和|(?<![a-z])[rhs])(元|\d{1,2})[年./-](\d{1,2})[月./-](\d{1,2})(?!\d)日?"
        ),
        _era,
    ),
    (re.compile(r"(?<!\d)(\d{4})[年./-](\d{1,2})[月./-](\d{1,2})(?!\d)日?"), _full),
    (re.compile(r"(?<![\d./-])(\d{2})[/.](\d{1,2})[/.](\d{1,2})(?![\d./])"), _two_digit_year),
    (
        re.compile("(" + "|".join(_YEAR_OFFSET) + r")の?(\d{1,2})月(?:(\d{1,2})日|の?(末|終わり))"),
        _relative_year,
    ),
    (re.compile(r"(?<![\d./-])(\d{1,2})月(\d{1,2})日"), _month_day),
    (re.compile(r"(?<![\d./-])(\d{1,2})月の?(?:末|終わり)"), _named_month_end),
    (re.compile(r"(?<![\d./-])(\d{1,2})/(\d{1,2})(?![\d/])"), _month_day),
    # "I started on Nov 10" (flattened: spaces gone).
    (
        re.compile(
            rf"({'|'.join(_MONTHS_EN)})(?:uary|ruary|ch|il|e|y|ust|t|tember|ober|ember)?\.?"
            r"(\d{1,2})(?!\d)"
        ),
        _english_month_day,
    ),
    (re.compile(r"(先月|前月|今月|当月|来月|翌月)(?:の)?(?:(\d{1,2})日|(末))"), _relative_month),
    (re.compile(r"(?<![月])月末"), _bare_month_end),
    # "10日くらい" as the whole answer: about the 10th (not "about ten days").
    (re.compile(r"^(\d{1,2})日(?:くらい|ぐらい)(?!前|後|使|経|た|間)"), _day_only),
    # "20日くらいに契約": a rough day of the month, not a length of time.
    (re.compile(r"(?<![\d月/.])(\d{1,2})日(?:くらい|ぐらい|ごろ|頃)に"), _day_only),
    (re.compile(r"(?<![\d月/])(\d{1,4})日目"), _nth_day),
    (
        re.compile(rf"(?<![\d月/])(\d{{1,4}})(日|週間|週|か月)間?({APPROX})?(前|後)(?!半|後)"),
        _ago,
    ),
    # A length of time: N週間 / Nか月 always; N日 only with a word that makes it one.
    (
        re.compile(
            rf"(?<![\d月/])(\d{{1,4}})(日(?=間|{APPROX}|{ELAPSED})|週間|週(?!末)|か月)(間)?"
            rf"({APPROX})?"
        ),
        _elapsed,
    ),
    # N日 right after a verb's て, まだ or an event から (開通して5日, 届いてから3日, 開通して
    # まだ3日, 開通から5日) counts days since it.
    (
        re.compile(
            r"(?:(?<=て)|(?<=てから)|(?<=でから)|(?<=まだ)|"
            + "|".join(f"(?<={w}から)" for w in _EVENTS)
            + r")(\d{1,4})日(?!目|以内|前|後|に|まで)"
        ),
        _since,
    ),
    # After the lengths of time: 今日で3日目 is the third day, not today.
    # 今日で5日目: 今日 is where the count ends, not the date asked for.
    (re.compile("(" + "|".join(_DAY_WORDS) + r")(?!で\d)"), _day_word),
    (
        re.compile(
            r"(先々週|先週|今週|来週)?(?:の)?(?:この前の|こないだの|この間の)?([月火水木金土日])曜"
        ),
        _weekday,
    ),
    (
        re.compile(rf"(?<![\d月/.])(\d{{1,2}})日(?!以内|間|目|以上|分|前|後|{APPROX}|{ELAPSED})"),
        _day_only,
    ),
    (
        re.compile(
            r"月初|月始め|月はじめ|上旬|初旬|中旬|下旬|月の?(?:頭|始め|はじめ|半ば|中ごろ|中頃)"
            r"|先々週|先週|今週|来週|先月|今月|来月|去年|昨年|今年"
            r"|(?<![\d./-])\d{1,2}月(?!\d)|(?<!\d)\d{4}年(?!\d)"
        ),
        _vague,
    ),
)


_PARTICLE = re.compile(r"(\d[年月])の(?=\d)")


def flatten(text: str, normalized: str | None = None) -> str:
    """``text`` as the date patterns read it: normalised (pass ``normalized`` when it is
    at hand), no spaces, kanji numerals before 年/月/日 as digits, and no の between year,
    month and day."""
    flat = _arabic((normalize(text) if normalized is None else normalized).replace(" ", ""))
    flat = flat.replace("半年", "6か月")  # 半年前, 使って半年: six months
    # "6月の20日", "2026年の6月": the particle changes nothing, and left in it would
    # make the day be read alone (as this month's 20th).
    return _PARTICLE.sub(r"\1", flat)


def scan_dates(flat: str, today: date) -> tuple[DateParse, ...]:
    """Every date in ``flat`` (see flatten), most specific pattern first; a piece of text
    read as one date is not read again as part of another. Never raises."""
    found: list[DateParse] = []
    taken: list[tuple[int, int]] = []
    for pattern, read in _PATTERNS:
        for m in pattern.finditer(flat):
            a, b = m.span()
            if any(a < e and s < b for s, e in taken):
                continue
            try:
                got = read(m, today)
            except (ValueError, OverflowError):
                # Absurd numbers (year 0, huge offsets): looked like a date but impossible.
                got = DateParse(bad=True, matched=m.group(0))
            taken.append((a, b))
            found.append(replace(got, start=a, end=b))
    return tuple(found)


def parse_date(text: str, today: date) -> DateParse:
    """The date ``text`` gives, from its most specific pattern (see module docstring for
    the year rule). Never raises."""
    try:
        found = scan_dates(flatten(text), today)
    except (ValueError, OverflowError):
        return DateParse(bad=True)
    return found[0] if found else NOTHING
