"""The web chat's API over real HTTP (uvicorn, real Redis): what a browser may send, what
it gets back, the cookie that keeps its conversation, and what is refused."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import httpx
import pytest
import redis

from adapters.web.guard import MAX_BODY, RateLimits
from tests.integration.web_harness import web_server, web_settings

pytestmark = pytest.mark.integration

EMBEDDER = "https://www.iijmio.jp"


@pytest.fixture
def base(redis_url: str) -> Iterator[str]:
    with web_server(web_settings(redis_url, web_origins=(EMBEDDER,))) as url:
        yield url


def post(client: httpx.Client, body: object, origin: str | None = "own", **headers: str):
    if origin == "own":
        origin = str(client.base_url).rstrip("/")
    if origin is not None:
        headers["Origin"] = origin
    return client.post("/web/api/turn", json=body, headers=headers)


def test_the_page_is_japanese_has_a_live_region_and_ships_its_own_script(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        page = client.get("/web/")
        assert page.status_code == 200
        assert '<html lang="ja">' in page.text
        assert 'aria-live="polite"' in page.text
        assert 'type="date"' in page.text
        assert (
            "frame-ancestors 'self' https://www.iijmio.jp"
            in page.headers["content-security-policy"]
        )
        assert not re.search(r'(src|href)="(https?:)?//', page.text)  # nothing from a CDN
        assert client.get("/web/chat.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/web/chat.css").status_code == 200


def test_a_conversation_keeps_its_cookie_and_reaches_a_dated_card(
    base: str, redis_url: str
) -> None:
    with httpx.Client(base_url=base) as client:
        opened = post(client, {"open": True})
        assert opened.status_code == 200
        cookie = opened.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/web" in cookie
        assert "Secure" not in cookie  # plain http on 127.0.0.1
        menu = opened.json()["reply"]
        assert menu["node"] == "menu"
        asked = post(client, {"choice": "min_period", "node": "menu"}).json()["reply"]
        assert asked["asks_date"] and asked["date"]["max"] == "2026-06-15"
        card = post(client, {"date": "2026-06-01", "node": asked["node"]}).json()["reply"]["card"]
        rows = {r["label"]: r["value"] for r in card["rows"]}
        assert rows["最短の解約日"] == "2026年6月30日(火)"
        assert "時点" in card["footer"]
        assert "inspect" not in opened.json()  # the inspector is off by default
    # The conversation lives under the same key scheme as LINE and Slack: web:<site>:<id>.
    keys = [k.decode() for k in redis.Redis.from_url(redis_url).keys("*web:127.0.0.1:*")]
    assert keys and all("{web:127.0.0.1:" in k for k in keys)


def test_a_page_from_another_origin_or_without_one_is_refused(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        assert post(client, {"open": True}, origin="https://evil.example").status_code == 403
        assert post(client, {"open": True}, origin=None).status_code == 403
        assert post(client, {"open": True}, origin=EMBEDDER).status_code == 200


def test_only_json_is_taken(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        own = str(client.base_url).rstrip("/")
        form = client.post(
            "/web/api/turn",
            content=b"text=hi",
            headers={"Origin": own, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 415
        assert post(client, ["not", "an", "object"]).status_code == 400
        assert post(client, {"text": ""}).status_code == 400


def test_a_large_body_is_refused_with_or_without_a_length(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        own = str(client.base_url).rstrip("/")
        big = b'{"text": "' + b"a" * MAX_BODY + b'"}'
        assert post(client, {"text": "a" * MAX_BODY}).status_code == 413

        def chunks() -> Iterator[bytes]:
            yield big

        chunked = client.post(
            "/web/api/turn",
            content=chunks(),
            headers={"Origin": own, "Content-Type": "application/json"},
        )
        assert chunked.status_code == 413


def test_a_forged_cookie_starts_a_new_conversation(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        post(client, {"open": True})
        post(client, {"choice": "min_period", "node": "menu"})
        client.cookies.set("iijbot_web", "made-up-id.forgedsignature", path="/web")
        again = post(client, {"open": True})
        assert "set-cookie" in again.headers
        assert again.json()["reply"]["node"] == "menu"  # not the date question


def test_https_behind_a_proxy_gets_a_secure_cookie(base: str) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1 (FORWARDED_ALLOW_IPS' default).
    with httpx.Client(base_url=base) as client:
        own = str(client.base_url).rstrip("/").replace("http://", "https://")
        r = post(client, {"open": True}, origin=own, **{"X-Forwarded-Proto": "https"})
        assert r.status_code == 200
        assert "Secure" in r.headers["set-cookie"]


def test_one_session_is_rate_limited(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        codes = [post(client, {"open": True}).status_code for _ in range(RateLimits.per_session)]
        assert set(codes) == {200}
        limited = post(client, {"open": True})
        assert limited.status_code == 429
        assert "少し待って" in limited.json()["message"]


def test_one_address_is_rate_limited_across_sessions(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        for _ in range(RateLimits.per_address):
            client.cookies.clear()
            # Refused bodies count too: a script cannot probe for free.
            assert post(client, {"nonsense": 1}).status_code == 400
        client.cookies.clear()
        assert post(client, {"open": True}).status_code == 429


def test_what_a_customer_types_is_not_logged(base: str, caplog: pytest.LogCaptureFixture) -> None:
    secret_words = "契約者番号はABC12345です"
    with caplog.at_level(logging.DEBUG), httpx.Client(base_url=base) as client:
        assert post(client, {"text": secret_words}).status_code == 200
    assert caplog.records  # the turn and the request were logged ...
    assert all(secret_words not in r.getMessage() for r in caplog.records)  # ... not the text
    assert all(secret_words not in str(r.__dict__) for r in caplog.records)


def test_the_inspector_and_clock_exist_only_with_iijbot_dev(redis_url: str) -> None:
    with web_server(web_settings(redis_url)) as url, httpx.Client(base_url=url) as client:
        assert 'data-dev="0"' in client.get("/web/").text
        clock = client.post("/web/api/clock", json={"now": None}, headers={"Origin": url})
        assert clock.status_code in (404, 405)
    with web_server(web_settings(redis_url, dev=True)) as url, httpx.Client(base_url=url) as c:
        assert 'data-dev="1"' in c.get("/web/").text
        set_clock = c.post(
            "/web/api/clock", json={"now": "2026-03-31T09:00"}, headers={"Origin": url}
        )
        assert set_clock.json() == {"now": "2026-03-31T09:00:00+09:00"}
        asked = post(c, {"text": "最低利用期間"}).json()
        assert asked["reply"]["date"]["max"] == "2026-03-31"  # the inspector's clock
        info = asked["inspect"]
        assert info["node_before"] == "menu" and info["node_after"] == "min_period"
        assert info["understood"] == {
            "kind": "choice",
            "value": "min_period",
            "node": "menu",
            "facts": {},
        }
        assert info["session"]["node"] == "min_period"
        assert info["line"]["problems"] == [] and info["slack"]["problems"] == []
        assert info["line"]["json"][-1]["quickReply"]["items"][0]["action"]["type"] == (
            "datetimepicker"
        )
        blocks = info["slack"]["json"]["blocks"]
        assert any(b.get("accessory", {}).get("type") == "datepicker" for b in blocks)
        # 「最初から」: a new conversation, whatever the old one was waiting for.
        fresh = post(c, {"reset": True}).json()
        assert fresh["reply"]["node"] == "menu" and fresh["inspect"]["session"]["node"] == "menu"
        said = post(c, {"text": "6月1日に使い始めたけど最低利用期間はいつまで？"}).json()
        understood = said["inspect"]["understood"]
        assert understood["kind"] == "topic" and understood["value"] == "min_period"
        ranking = said["inspect"]["ranking"]
        assert ranking[0][0] == "min_period" and len(ranking) >= 2  # and its runner-up
        assert ranking[0][1] >= ranking[1][1]
        assert understood["facts"]["dates"] == [
            {"role": "start", "date": "2026-06-01", "said": "6月1日"}
        ]
