"""The report as one self-contained HTML page: inline CSS and SVG, no script, no network.

A team lead opens the file in any browser, or mails it on; its Content-Security-Policy
forbids every fetch, so nothing in it can call out (texts not understood are in it).
Three charts: the top topics (bars), turns per day with the 0件ヒット率 line, and the
funnel from conversation to 「解決した」 with the drop-off nodes under it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from html import escape

from core.clock import format_date_ja
from core.report import Count, Day, Funnel, Report

# The reminder figures as the team reads them (core.report.REMINDER_NAMES); the text
# report uses them too.
REMINDER_LABELS = {
    "scheduled": "設定",
    "listed": "一覧",
    "cancelled": "解除",
    "unclear": "聞き返し・期限なし",
}

WIDTH = 720
_CSS = """
body{font-family:system-ui,-apple-system,"Hiragino Sans","Noto Sans CJK JP",sans-serif;
margin:2rem auto;max-width:760px;color:#1d2433;padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #dde}
.kpis{display:grid;grid-template-columns:repeat(3,1fr);gap:.6rem}
.kpi{background:#f3f5fa;border-radius:8px;padding:.6rem .8rem}
.kpi b{display:block;font-size:1.5rem}.kpi span{font-size:.8rem;color:#556}
table{border-collapse:collapse;width:100%}td,th{padding:.25rem .5rem;border-bottom:1px solid #eef;
text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
svg text{font-size:12px;fill:#1d2433}.bar{fill:#3d6fd8}.turns{fill:#b8c9ef}
.zero-hit-line{fill:none;stroke:#d8453d;stroke-width:2}.zero-hit-dot{fill:#d8453d}
.stage{fill:#9db8f0}.axis{stroke:#99a;stroke-width:1}
"""


def render_html(report: Report, labels: Mapping[str, str]) -> str:
    r = report
    last = r.until - timedelta(microseconds=1)
    span = f"{format_date_ja(r.since)} 〜 {format_date_ja(last)}"
    kpis = [
        ("会話数", str(r.conversations)),
        ("ターン数", str(r.turns)),
        ("回答率", _pct(r.answered_share)),
        ("0件ヒット率", _pct(r.zero_hit_share)),
        ("自己解決率", _pct(r.self_resolved_share)),
        ("担当者への引き継ぎ", str(r.handoffs)),
        ("リマインドの応答", str(sum(c.count for c in r.reminders))),
    ]
    topics = [Count(f"{labels.get(c.name, c.name)}", c.count) for c in r.topics]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="ja"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>IIJmio bot レポート {escape(span)}</title><style>{_CSS}</style></head><body>",
        f"<h1>IIJmio bot レポート</h1><p>{escape(span)}</p>",
        '<div class="kpis">',
        *(
            f'<div class="kpi" data-kpi="{escape(k)}"><b>{escape(v)}</b>'
            f"<span>{escape(k)}</span></div>"
            for k, v in kpis
        ),
        "</div>",
        "<h2>よく聞かれたトピック（会話数）</h2>",
        topic_bars(topics),
        "<h2>日別のターン数と0件ヒット率</h2>",
        daily_chart(r.days),
        "<h2>会話の到達段階</h2>",
        funnel_chart(r.funnel),
        "<h2>回答なしで終わった会話（最後の画面）</h2>",
        _table(("画面", "会話数"), r.drop_off),
        "<h2>読み取れなかった入力（正規化してまとめた件数）</h2>",
        _table(("入力（マスク済み）", "件数"), r.top_unmatched),
        "<h2>リマインド（ターン数）</h2>",
        _table(("応答", "ターン数"), reminder_rows(r.reminders), "reminders"),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def reminder_rows(rows: Sequence[Count]) -> tuple[Count, ...]:
    return tuple(Count(REMINDER_LABELS.get(c.name, c.name), c.count) for c in rows)


def _table(head: tuple[str, str], rows: Sequence[Count], table_id: str = "") -> str:
    if not rows:
        return "<p>（なし）</p>"
    body = "".join(f'<tr><td>{escape(c.name)}</td><td class="n">{c.count}</td></tr>' for c in rows)
    ident = f' id="{escape(table_id)}"' if table_id else ""
    return (
        f"<table{ident}><tr><th>{escape(head[0])}</th><th>{escape(head[1])}</th></tr>{body}</table>"
    )


def topic_bars(rows: Sequence[Count]) -> str:
    row_h, left = 26, 200
    height = max(1, len(rows)) * row_h + 10
    top = max((c.count for c in rows), default=1) or 1
    out = [_svg("chart-topics", height, "よく聞かれたトピック")]
    if not rows:
        out.append('<text x="10" y="20">（なし）</text>')
    for i, c in enumerate(rows):
        y = 5 + i * row_h
        w = (WIDTH - left - 60) * c.count / top
        out += [
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(c.name)}</text>',
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}">'
            f"<title>{escape(c.name)}: {c.count}</title></rect>",
            f'<text x="{left + w + 6:.1f}" y="{y + 16}">{c.count}</text>',
        ]
    out.append("</svg>")
    return "\n".join(out)


def daily_chart(days: Sequence[Day]) -> str:
    height, pad_l, pad_r, pad_t, pad_b = 240, 40, 50, 15, 30
    plot_w, plot_h = WIDTH - pad_l - pad_r, height - pad_t - pad_b
    n = max(1, len(days))
    slot = plot_w / n
    top = max((d.turns for d in days), default=1) or 1
    base = pad_t + plot_h
    out = [
        _svg("chart-daily", height, "日別のターン数と0件ヒット率"),
        f'<line class="axis" x1="{pad_l}" y1="{base}" x2="{pad_l + plot_w}" y2="{base}"/>',
        f'<text x="{pad_l - 6}" y="{pad_t + 10}" text-anchor="end">{top}</text>',
        f'<text x="{pad_l + plot_w + 6}" y="{pad_t + 10}">100%</text>',
        f'<text x="{pad_l + plot_w + 6}" y="{base}">0%</text>',
    ]
    # A day without typed turns has no rate: the line breaks there instead of inventing one.
    segments: list[list[str]] = [[]]
    for i, d in enumerate(days):
        x = pad_l + i * slot
        h = plot_h * d.turns / top
        out.append(
            f'<rect class="turns" x="{x + slot * 0.15:.1f}" y="{base - h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{h:.1f}"><title>{format_date_ja(d.day)}: '
            f"{d.turns}</title></rect>"
        )
        out.append(
            f'<text x="{x + slot / 2:.1f}" y="{base + 18}" text-anchor="middle">'
            f"{d.day.month}/{d.day.day}</text>"
        )
        share = d.zero_hit_share
        if share is None:
            segments.append([])
        else:
            cx, cy = x + slot / 2, base - plot_h * share
            segments[-1].append(f"{cx:.1f},{cy:.1f}")
            out.append(
                f'<circle class="zero-hit-dot" cx="{cx:.1f}" cy="{cy:.1f}" r="3">'
                f"<title>0件ヒット率 {share * 100:.1f}%</title></circle>"
            )
    for points in segments:
        if len(points) > 1:
            out.append(f'<polyline class="zero-hit-line" points="{" ".join(points)}"/>')
    out.append("</svg>")
    return "\n".join(out)


def funnel_chart(f: Funnel) -> str:
    stages = [
        ("会話", f.conversations),
        ("トピックを選んだ", f.chose_topic),
        ("回答まで", f.answered),  # an answer card or a reminder answer
        ("「解決した」", f.resolved),
    ]
    row_h, height = 40, 4 * 40 + 10
    top = max(f.conversations, 1)
    out = [_svg("chart-funnel", height, "会話の到達段階")]
    for i, (name, n) in enumerate(stages):
        w = max(2.0, (WIDTH - 20) * n / top)
        x = (WIDTH - w) / 2
        y = 5 + i * row_h
        out += [
            f'<rect class="stage" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" '
            f'data-stage="{escape(name)}" opacity="{1 - i * 0.18:.2f}">'
            f"<title>{escape(name)}: {n}</title></rect>",
            f'<text x="{WIDTH / 2}" y="{y + 22}" text-anchor="middle" '
            f'style="font-weight:bold">{escape(name)} {n}</text>',
        ]
    out.append("</svg>")
    return "\n".join(out)


def _svg(chart_id: str, height: int, title: str) -> str:
    return (
        f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">'
        f"<title>{escape(title)}</title>"
    )
