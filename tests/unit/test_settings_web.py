"""The web chat's settings: which pages may embed it, the cookie key, the inspector."""

from __future__ import annotations

import pytest

from adapters.web.guard import Origins, SlidingWindow, normal_origin
from bots.settings import Settings, SettingsError


def test_web_origins_are_read_as_a_list_of_origins() -> None:
    s = Settings.from_env({"IIJBOT_WEB_ORIGINS": "https://www.iijmio.jp, https://help.IIJmio.jp/"})
    assert s.web_origins == ("https://www.iijmio.jp", "https://help.iijmio.jp")
    assert Settings.from_env({}).web_origins == ()


@pytest.mark.parametrize(
    "value", ["www.iijmio.jp", "https://www.iijmio.jp/help/", "ftp://x.jp", "https://x.jp?a=1"]
)
def test_a_web_origin_with_a_path_or_no_scheme_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="IIJBOT_WEB_ORIGINS"):
        Settings.from_env({"IIJBOT_WEB_ORIGINS": value})


def test_a_short_cookie_key_is_refused_and_a_good_one_is_never_shown() -> None:
    with pytest.raises(SettingsError, match="IIJBOT_WEB_SECRET") as err:
        Settings.from_env({"IIJBOT_WEB_SECRET": "short"})
    assert "short" not in str(err.value)
    key = "k3y-for-the-web-cookie-0123456789"
    s = Settings.from_env({"IIJBOT_WEB_SECRET": key})
    assert key in s.secret_values()  # the log filter hides it
    assert key not in repr(s)


def test_the_inspector_is_off_unless_iijbot_dev_is_exactly_1() -> None:
    assert Settings.from_env({}).dev is False
    assert Settings.from_env({"IIJBOT_DEV": "1"}).dev is True
    with pytest.raises(SettingsError, match="IIJBOT_DEV"):
        Settings.from_env({"IIJBOT_DEV": "yes"})


def test_origins_compare_as_browsers_send_them() -> None:
    assert normal_origin("https://WWW.iijmio.jp:443") == "https://www.iijmio.jp"
    assert normal_origin("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert normal_origin("null") is None  # a sandboxed frame or a file: page
    origins = Origins(["https://www.iijmio.jp"])
    own = "http://bot.local:8080"
    assert origins.allows("https://www.iijmio.jp", own)
    assert origins.allows("http://bot.local:8080", own)
    assert not origins.allows("https://www.iijmio.jp.evil.example", own)
    assert not origins.allows("http://www.iijmio.jp", own)  # scheme matters
    assert not origins.allows(None, own)


def test_the_rate_window_slides() -> None:
    window = SlidingWindow(limit=2, window=60.0)
    assert window.allow("a", now=0.0) and window.allow("a", now=1.0)
    assert not window.allow("a", now=59.0)
    assert window.allow("b", now=59.0)  # another session or address has its own count
    assert window.allow("a", now=60.5)  # the first hit has left the window
