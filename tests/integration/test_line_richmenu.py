"""The rich menu: its definition and image fit LINE's rules, each tap means something to
the bot, and setup_rich_menu installs it against the stub LINE API."""

from __future__ import annotations

import json
import struct
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adapters.line import setup_rich_menu
from adapters.line.richmenu import data_api_base_url
from core.clip import graphemes
from core.dialogue import default_dialogue
from core.intent import Expectation, IntentKind
from core.nlu import understand
from tests.integration.line_stub import ACCESS_TOKEN, LineStub, serve

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "deploy" / "line" / "richmenu.json"
IMAGE = ROOT / "deploy" / "line" / "richmenu.png"
ALLOWED_SIZES = {(2500, 1686), (2500, 843), (1200, 810), (1200, 405), (800, 540), (800, 270)}


def _definition() -> dict[str, Any]:
    data = json.loads(DEFINITION.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def _png_size(raw: bytes) -> tuple[int, int]:
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR"
    width, height = struct.unpack(">II", raw[16:24])
    return width, height


def test_definition_and_image_fit_lines_rules() -> None:
    d = _definition()
    size = (d["size"]["width"], d["size"]["height"])
    assert size in ALLOWED_SIZES
    raw = IMAGE.read_bytes()
    assert _png_size(raw) == size  # the picture matches the tap areas
    assert len(raw) <= 1024 * 1024
    assert len(d["chatBarText"]) <= 14
    assert 1 <= len(d["areas"]) <= 20
    covered = 0
    for area in d["areas"]:
        b = area["bounds"]
        assert b["x"] >= 0 and b["y"] >= 0
        assert b["x"] + b["width"] <= size[0] and b["y"] + b["height"] <= size[1]
        covered += b["width"] * b["height"]
        assert len(graphemes(area["action"]["label"])) <= 20
    assert covered == size[0] * size[1]  # no dead zones a user could tap in vain


@pytest.mark.parametrize("asking_date", [False, True])
def test_every_tap_is_understood_wherever_the_user_is(asking_date: bool) -> None:
    # A rich menu tap sends its text as the user's message; it must lead somewhere both
    # at the menu and in the middle of a question (here: one that waits for a date).
    dialogue = default_dialogue()
    expect = (
        Expectation(node="initial", asks_date=True) if asking_date else dialogue.expectation(None)
    )
    meanings = set()
    for area in _definition()["areas"]:
        intent = understand(area["action"]["text"], expect, date(2026, 6, 22))
        assert intent.kind in (IntentKind.TOPIC, IntentKind.CHOICE, IntentKind.COMMAND), area
        meanings.add(intent.value)
    assert len(meanings) == len(_definition()["areas"])  # no two tiles do the same thing


async def test_setup_rich_menu_creates_uploads_and_sets_default() -> None:
    stub = LineStub()
    async with serve(stub.app()) as url:
        menu_id = await setup_rich_menu(ACCESS_TOKEN, url, DEFINITION, IMAGE)
    assert stub.default_rich_menu == menu_id
    assert stub.rich_menus[menu_id]["areas"] == _definition()["areas"]
    content_type, uploaded = stub.rich_menu_images[menu_id]
    assert content_type == "image/png" and uploaded == IMAGE.read_bytes()
    order = [r.path.split("/")[-1] for r in stub.requests]
    assert order == ["validate", "richmenu", "content", menu_id]  # image before default


async def test_setup_rich_menu_with_a_wrong_token_fails_loudly() -> None:
    stub = LineStub()
    async with serve(stub.app()) as url:
        with pytest.raises(Exception, match="401"):
            await setup_rich_menu("wrong-token", url, DEFINITION, IMAGE)
    assert stub.default_rich_menu is None


def test_image_uploads_go_to_the_data_host_on_real_line() -> None:
    assert data_api_base_url("https://api.line.me") == "https://api-data.line.me"
    assert data_api_base_url("https://api.line.me/") == "https://api-data.line.me"
    assert data_api_base_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
