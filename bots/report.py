"""`iijmio-bot report`: what customers asked and did not get, from the event stream.

Reads the period's events from Redis, lets core.report compute the figures and prints them
as text (for a person), JSON (one object, for scripts), or CSV (metric,key,value rows, for a
spreadsheet); --html also writes one self-contained page with charts (bots/report_html.py).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import re
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from core.clock import JST, format_date_ja
from core.events import TurnEvent
from core.report import Report, summarize
from core.store import StoreUnavailable, store_from_url
from core.store.redis import redact

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_UNAVAILABLE = 2

_SPAN = re.compile(r"^(\d+)\s*([dhw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser(
        "report", help="the support team's figures: answered, 0件ヒット率, 自己解決率 ..."
    )
    report.add_argument("--redis", help="Redis URL (default: $REDIS_URL)")
    report.add_argument(
        "--since",
        default="7d",
        help="period: 7d, 24h, 2w, or a start date 2026-06-15 (JST); default 7d",
    )
    report.add_argument(
        "--until", help="end of the period, exclusive: a date or ISO time (JST); default now"
    )
    report.add_argument("--format", choices=("text", "json", "csv"), default="text")
    report.add_argument("--html", type=Path, help="also write a self-contained HTML page")
    report.add_argument("--top", type=int, default=10, help="rows per ranking (default 10)")
    report.set_defaults(func=run)


def parse_when(value: str) -> datetime:
    """A date (the JST midnight starting it) or an ISO time; naive means JST."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date or ISO time: {value!r}") from None
    return at.replace(tzinfo=JST) if at.tzinfo is None else at


def period(since: str, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    end = parse_when(until) if until else now
    span = _SPAN.match(since.strip())
    start = end - int(span.group(1)) * _UNITS[span.group(2)] if span else parse_when(since)
    if start >= end:
        raise ValueError("--since must be before --until")
    return start, end


def run(args: argparse.Namespace) -> int:
    from bots.settings import Settings

    try:
        settings = Settings.from_env()
        url = args.redis or settings.redis_url
        start, end = period(args.since, args.until, datetime.now(JST))
    except ValueError as exc:
        print(f"iijmio-bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not url:
        print("iijmio-bot: the report reads Redis: give --redis URL or set REDIS_URL",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    try:
        events = asyncio.run(_read(url, start, end))
    except StoreUnavailable as exc:
        print(f"iijmio-bot: {redact(str(exc))}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    report = summarize(events, start, end, top=args.top)
    labels = topic_labels()
    if args.html is not None:
        from bots.report_html import render_html

        args.html.write_text(render_html(report, labels), encoding="utf-8")
    out = {"text": render_text, "json": render_json, "csv": render_csv}[args.format]
    sys.stdout.write(out(report, labels))
    return EXIT_OK


async def _read(url: str, start: datetime, end: datetime) -> list[TurnEvent]:
    store = store_from_url(url)
    try:
        if not await store.ping():
            raise StoreUnavailable(f"Redis at {redact(url)} does not answer")
        return await store.read_events(int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    finally:
        await store.close()


def topic_labels() -> dict[str, str]:
    """Topic id → the label customers see (the flow's topics)."""
    from core.dialogue import default_dialogue

    return {tid: t.label for tid, t in default_dialogue().flow.topics.items()}


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def _span_ja(report: Report) -> str:
    last = report.until - timedelta(microseconds=1)
    return f"{format_date_ja(report.since)} 〜 {format_date_ja(last)}"


def render_text(report: Report, labels: Mapping[str, str]) -> str:
    r = report
    lines = [
        f"IIJmio bot レポート {_span_ja(r)}",
        "",
        f"会話数            {r.conversations}",
        f"ターン数          {r.turns}（うち入力 {r.typed}）",
        f"回答率            {percent(r.answered_share)}（回答カード・リマインドまで {r.answered}/{r.conversations} 会話）",  # noqa: E501
        f"0件ヒット率       {percent(r.zero_hit_share)}（読み取れず {r.not_understood}/{r.typed} 入力）",  # noqa: E501
        f"自己解決率        {percent(r.self_resolved_share)}（解決した {r.resolved}/{r.feedback} 件）",  # noqa: E501
        f"フィードバック    {r.feedback}",
        f"担当者への引き継ぎ {r.handoffs}",
        f"リマインド        {reminder_line(r)}",
        "",
        "よく聞かれたトピック（会話数）",
        *_rows([(f"{labels.get(c.name, c.name)} [{c.name}]", c.count) for c in r.topics]),
        "",
        "回答なしで終わった会話（最後の画面）",
        *_rows([(c.name, c.count) for c in r.drop_off]),
        "",
        "読み取れなかった入力（正規化してまとめた件数）",
        *_rows([(c.name, c.count) for c in r.top_unmatched]),
        "",
        "日別（ターン数 / 0件ヒット率）",
        *(
            f"  {format_date_ja(d.day)}  {d.turns:>5}  {percent(d.zero_hit_share):>6}"
            for d in r.days
        ),
    ]
    return "\n".join(lines) + "\n"


def reminder_line(report: Report) -> str:
    from bots.report_html import REMINDER_LABELS

    return " / ".join(f"{REMINDER_LABELS.get(c.name, c.name)} {c.count}" for c in report.reminders)


def _rows(rows: list[tuple[str, int]]) -> list[str]:
    if not rows:
        return ["  （なし）"]
    return [f"  {i:>2}. {name}  {count}" for i, (name, count) in enumerate(rows, 1)]


def render_json(report: Report, labels: Mapping[str, str]) -> str:
    data = report.as_dict()
    topics = data["topics"]
    assert isinstance(topics, list)
    for row in topics:
        row["label"] = labels.get(row["topic"], row["topic"])
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def render_csv(report: Report, labels: Mapping[str, str]) -> str:
    """metric,key,value rows: the headline figures, then one row per ranked item."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["metric", "key", "value"])
    r = report
    for name, value in (
        ("since", r.since.isoformat()),
        ("until", r.until.isoformat()),
        ("conversations", r.conversations),
        ("turns", r.turns),
        ("typed_turns", r.typed),
        ("answered_share", _share(r.answered_share)),
        ("zero_hit_share", _share(r.zero_hit_share)),
        ("self_resolved_share", _share(r.self_resolved_share)),
        ("feedback", r.feedback),
        ("handoffs", r.handoffs),
    ):
        w.writerow([name, "", value])
    for c in r.topics:
        w.writerow(["topic", c.name, c.count])
    for c in r.drop_off:
        w.writerow(["drop_off", c.name, c.count])
    for c in r.top_unmatched:
        w.writerow(["unmatched", c.name, c.count])
    for c in r.reminders:
        w.writerow(["reminders", c.name, c.count])
    for d in r.days:
        w.writerow(["daily_turns", d.day.isoformat(), d.turns])
        w.writerow(["daily_zero_hit_share", d.day.isoformat(), _share(d.zero_hit_share)])
    return buf.getvalue()


def _share(share: float | None) -> str:
    return "" if share is None else f"{share:.4f}"
