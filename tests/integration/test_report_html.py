"""The HTML report in a real browser (Debian's headless Chromium through Playwright): the
three charts are drawn from the week's figures and the page asks for nothing over the
network."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from bots.cli import main
from tests.integration.test_report_week import script_the_week

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page_file(redis_url: str, tmp_path: Path) -> Path:
    asyncio.run(script_the_week(redis_url))
    html = tmp_path / "report.html"
    argv = ["report", "--redis", redis_url, "--since", "2026-06-15", "--until", "2026-06-22"]
    assert main([*argv, "--html", str(html)]) == 0
    return html


def widths(page: Page, selector: str) -> list[float]:
    return [
        float(w)
        for w in page.eval_on_selector_all(selector, "els => els.map(e => e.getBBox().width)")
    ]


def test_html_report_draws_its_three_charts_offline(page_file: Path) -> None:
    requested: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.on("request", lambda req: requested.append(req.url))
            page.goto(page_file.as_uri())
            # Topics: cancel and fees (2 conversations each) twice as long as support (1).
            cancel, fees, support = widths(page, "#chart-topics rect.bar")
            assert cancel == fees == pytest.approx(2 * support)
            labels = page.eval_on_selector_all(
                "#chart-topics > text", "els => els.map(e => e.textContent)"
            )
            assert labels == ["解約の手順", "2", "違約金・手数料", "2", "問い合わせ先", "1"]
            # Daily: a bar per day of the week; the rate line breaks on Saturday (no input),
            # so Mon–Fri is one line and Sunday a lone dot.
            assert len(widths(page, "#chart-daily rect.turns")) == 7
            assert page.locator("#chart-daily circle.zero-hit-dot").count() == 6
            assert page.locator("#chart-daily polyline.zero-hit-line").count() == 1
            assert all(w > 0 for w in widths(page, "#chart-daily polyline.zero-hit-line"))
            # Funnel: 9 conversations → 5 chose a topic → 4 answered → 2 解決した.
            stages = widths(page, "#chart-funnel rect.stage")
            assert stages == sorted(stages, reverse=True)
            assert stages[3] / stages[0] == pytest.approx(2 / 9, rel=0.01)
            assert "0件ヒット率" in page.inner_text("body")
            assert page.inner_text("[data-kpi='0件ヒット率'] b") == "50.0%"
            for chart in ("#chart-topics", "#chart-daily", "#chart-funnel"):
                box = page.locator(chart).bounding_box()
                assert box is not None and box["width"] > 0 and box["height"] > 0
        finally:
            browser.close()
    assert requested == [page_file.as_uri()]
