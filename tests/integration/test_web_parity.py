"""The terminal chat and the web chat say the same thing: every typed-only conversation of
tests/transcripts/ goes through `iijmio-bot chat --json` and through POST /web/api/turn,
with the same clock and a real Redis, and each reply must be identical.

Where the terminal user types a choice's label (or number), the web user presses that
button: the same act on each surface."""

from __future__ import annotations

import io
import json
import unicodedata
from collections import defaultdict
from datetime import datetime
from typing import Any

import httpx
import pytest

from bots.cli import main
from core.clock import JST
from tests.integration.web_harness import web_server, web_settings
from tests.unit.test_transcripts import CONVERSATIONS, Conversation

pytestmark = pytest.mark.integration

TYPED_ONLY = [
    c
    for c in CONVERSATIONS
    if all(
        set(t) <= {"user", "node", "says", "not_says", "asks_date", "buttons", "ends"}
        # A blank turn stands for a sticker: no input either surface can type.
        and str(t["user"]).strip()
        for t in c.turns
    )
]


def terminal(
    conv: Conversation,
    user: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> list[dict[str, Any]]:
    lines = "".join(f"{t['user']}\n" for t in conv.turns)
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    now = conv.now.isoformat()
    capsys.readouterr()
    main(["chat", "--json", "--now", now, "--redis", redis_url, "--user", user])
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def picked(text: str, last: dict[str, Any] | None) -> str | None:
    """The button a terminal line names (its number or its exact label), as the CLI reads it."""
    if last is None:
        return None
    text = unicodedata.normalize("NFKC", text).strip()
    choices = last["choices"]
    if text.isdecimal():
        i = int(text)
        return choices[i - 1]["value"] if 1 <= i <= len(choices) else None
    for c in choices:
        if text == unicodedata.normalize("NFKC", c["label"]).strip():
            return str(c["value"])
    return None


def as_terminal(reply: dict[str, Any]) -> dict[str, Any]:
    """The web reply in the terminal's --json shape: the card and the date question read as
    text, in the order the terminal prints them."""
    texts = list(reply["texts"])
    card = reply["card"]
    if card is not None:
        lines = [f"■ {card['title']}"]
        lines += [f"・{r['label']}: {r['value']}" for r in card["rows"]]
        lines += [f"{i}. {s}" for i, s in enumerate(card["steps"], 1)]
        lines += [f"※ {n}" for n in card["notes"]]
        if card["link"]:
            lines.append(f"{card['link']['label']}: {card['link']['url']}")
        if card["footer"]:
            lines.append(card["footer"])
        texts.append("\n".join(lines))
    if reply["date"] is not None:
        texts.append(reply["date"]["prompt"])
    return {
        "node": reply["node"],
        "texts": texts,
        "choices": reply["choices"],
        "asks_date": reply["asks_date"],
    }


def web(conv: Conversation, base: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    with httpx.Client(base_url=base, headers={"Origin": base}) as client:
        for turn in conv.turns:
            value = picked(str(turn["user"]), last)
            body = (
                {"text": str(turn["user"])}
                if value is None
                else {"choice": value, "node": last["node"] if last else None}
            )
            response = client.post("/web/api/turn", json=body)
            assert response.status_code == 200, response.text
            last = response.json()["reply"]
            assert last is not None
            out.append(as_terminal(last))
    return out


def test_terminal_and_web_give_identical_replies_for_the_same_transcripts(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(TYPED_ONLY) >= 20  # most of the transcripts, not a token few
    by_clock: dict[datetime, list[Conversation]] = defaultdict(list)
    for conv in TYPED_ONLY:
        by_clock[conv.now.astimezone(JST)].append(conv)
    compared = 0
    for now, convs in by_clock.items():
        with web_server(web_settings(redis_url), now=now) as base:
            for i, conv in enumerate(convs):
                on_terminal = terminal(conv, f"parity-{now:%s}-{i}", redis_url, monkeypatch, capsys)
                on_web = web(conv, base)
                assert on_web == on_terminal, f"{conv.file}: {conv.name}"
                compared += len(on_web)
    assert compared >= 50
