"""Log lines: one per event, at LOG_LEVEL, and never carrying a configured secret."""

from __future__ import annotations

import ast
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bots.logging_setup import configure_logging
from bots.settings import Settings

LINE_TOKEN = "line-access-token-ZYXWVUTSRQPONMLK"
SLACK_SECRET = "slack-signing-secret-8f3a9c1d"
REDIS_PASSWORD = "r3dis-pa55word"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    settings = Settings.from_env(
        {
            "LINE_CHANNEL_SECRET": "line-channel-secret-0123",
            "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
            "SLACK_SIGNING_SECRET": SLACK_SECRET,
            "REDIS_URL": f"redis://:{REDIS_PASSWORD}@redis:6379/0",
            "LOG_LEVEL": "info",
        }
    )
    configure_logging(settings, stream=out)
    yield out
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_one_line_per_event_with_fields(stream: io.StringIO) -> None:
    logging.getLogger("iijbot.test").info("platform mounted", extra={"platform": "line"})
    [line] = lines(stream)
    assert "level=INFO" in line
    assert "logger=iijbot.test" in line
    assert 'msg="platform mounted"' in line
    assert "platform=line" in line


def test_level_comes_from_settings(stream: io.StringIO) -> None:
    log = logging.getLogger("iijbot.test")
    log.debug("hidden detail")
    log.warning("visible")
    assert len(lines(stream)) == 1
    assert "visible" in stream.getvalue()


def test_configured_secrets_are_redacted_in_message_args_and_fields(stream: io.StringIO) -> None:
    log = logging.getLogger("some.library")
    log.info("calling with token %s", LINE_TOKEN)
    log.info("signature secret was %s", SLACK_SECRET, extra={"header": f"Bearer {LINE_TOKEN}"})
    log.error("cannot connect to redis://:%s@redis:6379/0", REDIS_PASSWORD)
    text = stream.getvalue()
    for secret in (LINE_TOKEN, SLACK_SECRET, REDIS_PASSWORD):
        assert secret not in text
    assert text.count("***") >= 4
    assert len(lines(stream)) == 3


def test_token_shaped_strings_are_redacted_even_when_not_configured(stream: io.StringIO) -> None:
    logging.getLogger("slack_sdk").info(
        "auth header Authorization: Bearer abc.def-123 token xoxb-999-888-QWERTY"
    )
    text = stream.getvalue()
    assert "abc.def-123" not in text
    assert "xoxb-999-888-QWERTY" not in text


def test_tracebacks_are_one_line_and_redacted(stream: io.StringIO) -> None:
    try:
        raise RuntimeError(f"bad token {LINE_TOKEN}\nsecond line")
    except RuntimeError:
        logging.getLogger("iijbot.test").exception("send failed")
    [line] = lines(stream)
    assert "exc=" in line and "RuntimeError" in line
    assert LINE_TOKEN not in line


def test_uvicorn_loggers_go_through_the_same_handler(stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info(
        "Started server process", extra={"color_message": "Started \x1b[36mserver\x1b[0m"}
    )
    assert "logger=uvicorn.error" in stream.getvalue()
    assert "\x1b" not in stream.getvalue()  # no terminal colours in collected logs


def _logger_names(path: Path) -> Iterator[tuple[int, str | None]]:
    """(line, name) of every logging.getLogger call; name None when not written out."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "getLogger":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield node.lineno, arg.value
            else:
                yield node.lineno, None


def test_every_logger_of_ours_is_under_iijbot() -> None:
    """An operator sets one level or filter on `iijbot` and gets every line the bot logs."""
    root = Path(__file__).resolve().parents[2]
    # configure_logging itself reaches the root logger and uvicorn's, which are not ours.
    setup = root / "bots" / "logging_setup.py"
    outside = [
        f"{path.relative_to(root)}:{line}: {name!r}"
        for folder in ("core", "adapters", "bots")
        for path in sorted((root / folder).rglob("*.py"))
        if path != setup
        for line, name in _logger_names(path)
        if name is None or not (name == "iijbot" or name.startswith("iijbot."))
    ]
    assert outside == []
