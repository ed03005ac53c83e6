"""The web chat in a real browser: Debian's headless Chromium driven by Playwright (never
`playwright install`), against the real server and Redis. Screenshots of the chat at phone
and desktop sizes land in build/screenshots/ for a developer to look at (not committed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Frame, Page, sync_playwright
from playwright.sync_api import Route as PageRoute
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.integration.test_report_html import CHROMIUM, FLAGS
from tests.integration.web_harness import serving, web_server, web_settings

pytestmark = pytest.mark.integration

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
WAIT_MS = 15_000  # a bound for a hung page, not a timing


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # No locale override: navigator.language then tells the date input's segment order
    # (the browser's UI language), which a locale override would not change.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(WAIT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def tab_to(page: Page, label: str, limit: int = 30) -> None:
    """Press Tab until the focused control reads `label` (keyboard only, like a user)."""
    for _ in range(limit):
        if page.evaluate("document.activeElement.textContent.trim()") == label:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{label!r} is not reachable by Tab")


def focus_ring(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.activeElement).outlineStyle"))


def test_keyboard_only_through_buttons_and_the_date_input_to_a_dated_card(
    redis_url: str, page: Page
) -> None:
    with web_server(web_settings(redis_url)) as base:
        page.goto(f"{base}/web/")
        log = page.locator("#log")
        assert log.get_attribute("aria-live") == "polite"
        page.locator("#choices button").first.wait_for()
        tab_to(page, "最低利用期間")
        assert focus_ring(page) == "solid"  # focus is visible
        page.keyboard.press("Enter")
        # The date question: a native date input, limited to the clock's today.
        date_input = page.locator("#date-input")
        date_input.wait_for(state="visible")
        assert date_input.get_attribute("type") == "date"
        assert date_input.get_attribute("max") == "2026-06-15"
        assert page.evaluate("document.activeElement.id") == "date-input"
        # Digits fill the segments in the browser's own order (its UI language).
        ymd = page.evaluate("navigator.language").startswith("ja")
        page.keyboard.type("20260601" if ymd else "06012026")
        assert date_input.input_value() == "2026-06-01"
        tab_to(page, "この日付で送る")
        page.keyboard.press("Enter")
        card = log.locator("article.card")
        card.wait_for()
        rows = dict(
            zip(
                card.locator("dt").all_inner_texts(),
                card.locator("dd").all_inner_texts(),
                strict=True,
            )
        )
        assert rows["最短の解約日"] == "2026年6月30日(火)"
        assert rows["利用開始日"] == "2026年6月1日(月)"
        assert "時点" in card.locator(".footer").inner_text()
        # What the customer sent shows in the live region too, as a date they can read.
        assert "2026年6月1日(月)" in log.locator(".msg.you").all_inner_texts()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "web-390x844.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.screenshot(path=str(SHOTS / "web-1280x800.png"))


def test_a_typed_question_gets_its_card(redis_url: str, page: Page) -> None:
    with web_server(web_settings(redis_url)) as base:
        page.goto(f"{base}/web/")
        page.locator("#choices button").first.wait_for()
        page.locator("#text-input").fill("解約したい")
        page.keyboard.press("Enter")
        title = page.locator("#log article.card h2")
        title.wait_for()
        assert title.inner_text() == "解約（MNPなし）の手順"
        assert page.locator("#log .msg.you").last.inner_text() == "解約したい"
        assert "メニューへ" in page.locator("#choices button").all_inner_texts()


def host_app(bot: dict[str, str]) -> Starlette:
    """A help page on another origin that embeds the chat with the documented snippet."""

    async def help_page(request: Request) -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><html lang="ja"><body><h1>ヘルプ</h1>'
            f'<script src="{bot["url"]}/web/embed.js" defer></script></body></html>'
        )

    return Starlette(routes=[Route("/", help_page)])


def test_embed_snippet_opens_the_chat_on_an_allowed_origin_only(redis_url: str, page: Page) -> None:
    bot: dict[str, str] = {}
    with (
        serving(host_app(bot)) as allowed,
        serving(host_app(bot)) as other,
        web_server(web_settings(redis_url, web_origins=(allowed,))) as base,
    ):
        bot["url"] = base
        page.goto(allowed)
        launcher = page.locator("#iijbot-launcher")
        launcher.wait_for()
        assert launcher.get_attribute("aria-expanded") == "false"
        tab_to(page, launcher.inner_text())
        page.keyboard.press("Enter")
        assert launcher.get_attribute("aria-expanded") == "true"
        frame = page.frame_locator("#iijbot-panel iframe")
        frame.locator("#choices button").first.wait_for()
        assert "解約の手順" in frame.locator("#choices button").all_inner_texts()
        page.keyboard.press("Escape")
        assert page.locator("#iijbot-panel").is_hidden()

        page.goto(other)
        page.wait_for_load_state("load")
        assert page.locator("#iijbot-launcher").count() == 0
        # A page that frames the chat by hand is refused by the browser (frame-ancestors);
        # set_content returns once the frame has loaded or been refused.
        page.set_content(f'<iframe src="{base}/web/"></iframe>')
        assert not [f for f in page.frames if f.locator("#text-input").count()]
        page.goto(allowed)
        page.set_content(f'<iframe src="{base}/web/"></iframe>')
        framed: list[Frame] = [f for f in page.frames if f.locator("#text-input").count()]
        assert len(framed) == 1  # the same frame on an allowed page shows the chat


def test_the_inspector_shows_only_with_iijbot_dev(redis_url: str, page: Page) -> None:
    with web_server(web_settings(redis_url)) as base:
        page.goto(f"{base}/web/")
        page.locator("#choices button").first.wait_for()
        assert page.locator("#inspector").is_hidden()
    with web_server(web_settings(redis_url, dev=True)) as base:
        page.goto(f"{base}/web/")
        inspector = page.locator("#inspector")
        inspector.wait_for(state="visible")
        page.locator("#choices button").first.wait_for()
        page.locator("#text-input").fill("解約したい")
        page.keyboard.press("Enter")
        turn = inspector.locator("details.turn", has_text="menu → cancel")
        turn.locator(".platform.line").wait_for()
        assert turn.get_attribute("open") is not None  # the newest turn is the open one
        assert turn.locator(".platform.line .ok").inner_text() == "✓ valid"
        assert turn.locator(".platform.slack .ok").inner_text() == "✓ valid"
        assert '"type": "flex"' in turn.locator(".platform.line pre").inner_text()


def test_a_slow_turn_shows_the_typing_indicator_until_the_reply(redis_url: str, page: Page) -> None:
    with web_server(web_settings(redis_url)) as base:
        page.goto(f"{base}/web/")
        page.locator("#choices button").first.wait_for()
        assert page.locator("#typing").is_hidden()
        shown: list[bool] = []

        def slow(route: PageRoute) -> None:
            answer = route.fetch()
            # Held back here: past 300 ms the page says the bot is typing.
            page.locator("#typing").wait_for(state="visible")
            shown.append(True)
            route.fulfill(response=answer)

        page.route("**/web/api/turn", slow)
        page.locator("#text-input").fill("解約したい")
        page.keyboard.press("Enter")
        page.locator("#log article.card").wait_for()
        assert shown == [True]
        assert page.locator("#typing").is_hidden()


# WCAG 2.x contrast of each element's text against the background it is drawn on.
CONTRAST_JS = """
(selector) => {
  const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(selector)].map((el) => {
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  });
}
"""


def test_every_text_meets_aa_contrast(redis_url: str, page: Page) -> None:
    with web_server(web_settings(redis_url)) as base:
        page.goto(f"{base}/web/")
        page.locator("#text-input").fill("解約したい")
        page.locator("#choices button").first.wait_for()
        page.keyboard.press("Enter")
        page.locator("#log article.card").wait_for()
        selectors = [
            ".top h1",
            ".intro",
            ".msg.bot",
            ".msg.you",
            ".card h2",
            ".card dt",
            ".card dd",
            ".card li",
            ".card .footer",
            ".card a",
            "#choices button",
            "button[type=submit]",
            "#text-input",
        ]
        for selector in selectors:
            ratios = page.evaluate(CONTRAST_JS, selector)
            assert ratios, f"nothing matched {selector}"
            assert min(ratios) >= 4.5, f"{selector}: contrast {min(ratios):.2f} < 4.5"
