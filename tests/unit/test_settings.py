"""Settings: what an operator sets in the environment and what the server then believes."""

from __future__ import annotations

import pytest

from bots.settings import ENV_VARS, LineApi, LineSettings, Settings, SettingsError, SlackSettings
from core.store.base import DEFAULT_SESSION_TTL

LINE_SECRET = "line-channel-secret-0123456789abcdef"
LINE_TOKEN = "line-access-token-ZYXWVUTSRQPONMLK"
SLACK_SECRET = "slack-signing-secret-8f3a9c1d"
SLACK_TOKEN = "xoxb-1111-2222-abcdefABCDEF"
REDIS_PASSWORD = "r3dis-pa55word"

FULL = {
    "REDIS_URL": f"redis://:{REDIS_PASSWORD}@redis.internal:6379/2",
    "LINE_CHANNEL_SECRET": LINE_SECRET,
    "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
    "SLACK_SIGNING_SECRET": SLACK_SECRET,
    "SLACK_BOT_TOKEN": SLACK_TOKEN,
}


def test_empty_environment_gives_documented_defaults() -> None:
    s = Settings.from_env({})
    assert s.redis_url is None
    assert s.line is None and s.slack is None and s.line_api is None
    assert s.session_ttl == DEFAULT_SESSION_TTL == 86400
    assert s.log_level == "INFO"
    assert s.log_text is False
    assert s.line_missing == ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN")
    assert s.slack_missing == ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")


def test_the_platform_api_urls_default_to_the_real_platforms() -> None:
    s = Settings.from_env(FULL)
    assert s.line is not None and s.line.api.base_url == "https://api.line.me"
    assert s.slack is not None and s.slack.api_url == "https://slack.com/api/"


def test_full_environment_enables_both_platforms() -> None:
    s = Settings.from_env(FULL)
    assert s.line_missing == () and s.slack_missing == ()
    assert s.redis_url == FULL["REDIS_URL"]
    assert s.line == LineSettings(channel_secret=LINE_SECRET, api=LineApi(LINE_TOKEN))
    assert s.line_api is s.line.api
    assert s.slack == SlackSettings(signing_secret=SLACK_SECRET, bot_token=SLACK_TOKEN)


@pytest.mark.parametrize(
    ("env", "line", "slack"),
    [
        ({"LINE_CHANNEL_SECRET": LINE_SECRET}, ("LINE_CHANNEL_ACCESS_TOKEN",), None),
        ({"LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN}, ("LINE_CHANNEL_SECRET",), None),
        ({"SLACK_BOT_TOKEN": SLACK_TOKEN}, None, ("SLACK_SIGNING_SECRET",)),
        (
            {"SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_BOT_TOKEN": "  "},
            None,
            ("SLACK_BOT_TOKEN",),
        ),
    ],
)
def test_a_platform_with_one_secret_is_not_enabled_and_names_the_missing_one(
    env: dict[str, str], line: tuple[str, ...] | None, slack: tuple[str, ...] | None
) -> None:
    s = Settings.from_env(env)
    if line is not None:
        assert s.line is None
        assert s.line_missing == line
    if slack is not None:
        assert s.slack is None
        assert s.slack_missing == slack


def test_the_access_token_alone_is_enough_to_call_line_but_not_to_mount_it() -> None:
    # `iijmio-bot line-richmenu` calls the LINE API; only the webhook needs the secret.
    s = Settings.from_env(
        {"LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN, "LINE_API_BASE_URL": "http://stub:1/"}
    )
    assert s.line is None
    assert s.line_api == LineApi(access_token=LINE_TOKEN, base_url="http://stub:1")


def test_values_are_trimmed_and_blank_means_unset() -> None:
    s = Settings.from_env(
        {
            "LINE_CHANNEL_SECRET": f"{LINE_SECRET}\n",
            "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
            "REDIS_URL": "  ",
            "LOG_LEVEL": "",
        }
    )
    assert s.line is not None and s.line.channel_secret == LINE_SECRET
    assert s.redis_url is None
    assert s.log_level == "INFO"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://slack.com/api", "https://slack.com/api/"),
        ("https://slack.com/api/", "https://slack.com/api/"),
        ("http://127.0.0.1:9999", "http://127.0.0.1:9999/"),
    ],
)
def test_slack_api_url_always_ends_with_a_slash(given: str, expected: str) -> None:
    slack = Settings.from_env({**FULL, "SLACK_API_URL": given}).slack
    assert slack is not None and slack.api_url == expected


def test_line_api_base_url_is_used_without_trailing_slash() -> None:
    s = Settings.from_env({**FULL, "LINE_API_BASE_URL": "http://127.0.0.1:8081/"})
    assert s.line is not None and s.line.api.base_url == "http://127.0.0.1:8081"


@pytest.mark.parametrize(
    ("value", "expected"), [("60", 60), ("3600", 3600), (" 86400 ", 86400), ("2592000", 2592000)]
)
def test_session_ttl_accepts_whole_seconds_in_range(value: str, expected: int) -> None:
    assert Settings.from_env({"IIJBOT_SESSION_TTL": value}).session_ttl == expected


@pytest.mark.parametrize("value", ["0", "-5", "59", "2592001", "1h", "3.5", "abc"])
def test_session_ttl_rejects_nonsense_with_the_variable_name(value: str) -> None:
    with pytest.raises(SettingsError, match="IIJBOT_SESSION_TTL"):
        Settings.from_env({"IIJBOT_SESSION_TTL": value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("debug", "DEBUG"), ("Info", "INFO"), ("warn", "WARNING"), ("ERROR", "ERROR")],
)
def test_log_level_is_case_insensitive(value: str, expected: str) -> None:
    assert Settings.from_env({"LOG_LEVEL": value}).log_level == expected


def test_unknown_log_level_is_rejected() -> None:
    with pytest.raises(SettingsError, match="LOG_LEVEL"):
        Settings.from_env({"LOG_LEVEL": "verbose"})


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("0", False), (None, False)])
def test_line_webhook_redelivery_switch(value: str | None, expected: bool) -> None:
    env = FULL if value is None else {**FULL, "LINE_WEBHOOK_REDELIVERY": value}
    line = Settings.from_env(env).line
    assert line is not None and line.webhook_redelivery is expected


def test_a_short_metrics_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError, match="IIJBOT_METRICS_TOKEN") as err:
        Settings.from_env({"IIJBOT_METRICS_TOKEN": "guessable"})
    assert "guessable" not in str(err.value)


def test_the_metrics_token_is_a_secret() -> None:
    token = "metrics-token-0123456789"
    settings = Settings.from_env({"IIJBOT_METRICS_TOKEN": token})
    assert settings.metrics_token == token
    assert token in settings.secret_values()
    assert token not in repr(settings) and "metrics=token" in repr(settings)


@pytest.mark.parametrize(("value", "expected"), [(None, 10), ("0", 0), ("25", 25)])
def test_flood_burst_defaults_to_10_and_0_turns_it_off(value: str | None, expected: int) -> None:
    env = FULL if value is None else {**FULL, "IIJBOT_FLOOD_BURST": value}
    line = Settings.from_env(env).line
    assert line is not None and line.flood_burst == expected


@pytest.mark.parametrize("value", ["-1", "1001", "lots", "2.5"])
def test_flood_burst_rejects_nonsense(value: str) -> None:
    with pytest.raises(SettingsError, match="IIJBOT_FLOOD_BURST"):
        Settings.from_env({**FULL, "IIJBOT_FLOOD_BURST": value})


def test_line_webhook_redelivery_rejects_anything_but_1_or_0() -> None:
    with pytest.raises(SettingsError, match="LINE_WEBHOOK_REDELIVERY"):
        Settings.from_env({**FULL, "LINE_WEBHOOK_REDELIVERY": "yes"})


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("0", False)])
def test_log_text_switch(value: str, expected: bool) -> None:
    assert Settings.from_env({"IIJBOT_LOG_TEXT": value}).log_text is expected


@pytest.mark.parametrize("value", ["maybe", "true", "on", "2"])
def test_log_text_rejects_anything_but_1_or_0(value: str) -> None:
    # The turn only honours "1"; accepting "true" here would promise logs that never come.
    with pytest.raises(SettingsError, match="IIJBOT_LOG_TEXT"):
        Settings.from_env({"IIJBOT_LOG_TEXT": value})


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "rediss://:pw@cache.example:6380/1",
        "unix:///var/run/redis.sock",
        "redis+sentinel://s1:26379,s2:26379/mymaster/0",
        "redis+cluster://n1:7000,n2:7001",
    ],
)
def test_redis_url_accepts_the_schemes_the_store_understands(url: str) -> None:
    assert Settings.from_env({"REDIS_URL": url}).redis_url == url


@pytest.mark.parametrize(
    "url", ["localhost:6379", "http://redis:6379", "redis://", "memcached://x"]
)
def test_redis_url_rejects_other_shapes(url: str) -> None:
    with pytest.raises(SettingsError, match="REDIS_URL"):
        Settings.from_env({"REDIS_URL": url})


def test_redis_url_error_never_echoes_a_password() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"REDIS_URL": f"http://:{REDIS_PASSWORD}@redis:6379"})
    assert REDIS_PASSWORD not in str(info.value)


@pytest.mark.parametrize("name", ["LINE_API_BASE_URL", "SLACK_API_URL"])
@pytest.mark.parametrize("value", ["api.line.me", "ftp://example.com", "https://"])
def test_api_urls_must_be_http(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_repr_and_str_never_show_secrets() -> None:
    s = Settings.from_env(FULL)
    for text in (repr(s), str(s), f"{s}", f"{s!r}"):
        for secret in (LINE_SECRET, LINE_TOKEN, SLACK_SECRET, SLACK_TOKEN, REDIS_PASSWORD):
            assert secret not in text
        assert "line=on" in text and "slack=on" in text and "redis_url=set" in text


def test_repr_shows_the_non_secret_settings() -> None:
    s = Settings.from_env({"LOG_LEVEL": "debug", "IIJBOT_SESSION_TTL": "600"})
    assert "log_level='DEBUG'" in repr(s)
    assert "session_ttl=600" in repr(s)
    assert "line=off" in repr(s) and "redis_url=unset" in repr(s)


def test_secret_values_lists_every_credential_including_the_redis_password() -> None:
    secrets = set(Settings.from_env(FULL).secret_values())
    assert secrets == {LINE_SECRET, LINE_TOKEN, SLACK_SECRET, SLACK_TOKEN, REDIS_PASSWORD}


def test_settings_are_immutable() -> None:
    s = Settings.from_env(FULL)
    with pytest.raises(AttributeError):
        s.log_level = "DEBUG"  # type: ignore[misc]


def test_every_documented_variable_is_read() -> None:
    # With both platforms configured, a new value for any variable changes the result:
    # none of them is silently ignored.
    base_env = {**FULL, "LINE_API_BASE_URL": "http://line.one", "SLACK_API_URL": "http://s.one/"}
    base = Settings.from_env(base_env)
    changed = {
        "REDIS_URL": "redis://x:6379/0",
        "LINE_CHANNEL_SECRET": "a" * 8,
        "LINE_CHANNEL_ACCESS_TOKEN": "b" * 8,
        "LINE_API_BASE_URL": "http://line.local",
        "SLACK_SIGNING_SECRET": "c" * 8,
        "SLACK_BOT_TOKEN": "xoxb-d",
        "SLACK_API_URL": "http://slack.local/api/",
        "IIJBOT_SESSION_TTL": "120",
        "LOG_LEVEL": "ERROR",
        "IIJBOT_LOG_TEXT": "1",
        "IIJBOT_HASH_KEY": "k" * 32,
        "IIJBOT_EVENTS_RETENTION_DAYS": "30",
        "SLACK_HANDOFF_CHANNEL": "C0SUPPORT",
        "IIJBOT_SUPPORT_HOURS": "daily 10:00-17:00",
        "IIJBOT_HANDOFF_TTL": "600",
        "LINE_WEBHOOK_REDELIVERY": "1",
        "IIJBOT_FLOOD_BURST": "0",
        "IIJBOT_METRICS_TOKEN": "t" * 16,
        "IIJBOT_WEB_ORIGINS": "https://www.iijmio.jp",
        "IIJBOT_WEB_SECRET": "w" * 32,
        "IIJBOT_DEV": "1",
        "IIJBOT_REMINDER_MONTHLY_CAP": "500",
        "IIJBOT_REMINDER_WORKER": "0",
        "IIJBOT_PUBLIC_URL": "https://bot.example.com",
    }
    assert set(changed) == set(ENV_VARS)
    for name, value in changed.items():
        assert Settings.from_env({**base_env, name: value}) != base, name


def test_a_half_configured_platforms_secret_is_still_redacted() -> None:
    # Not mounted, but the value is in the environment: the log must hide it all the same.
    s = Settings.from_env({"SLACK_SIGNING_SECRET": SLACK_SECRET})
    assert s.slack is None
    assert SLACK_SECRET in s.secret_values()


def test_event_settings_default_to_no_events_and_ninety_days() -> None:
    s = Settings.from_env({})
    assert s.hash_key is None and s.events_retention_days == 90


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IIJBOT_HASH_KEY", "short"),
        ("IIJBOT_EVENTS_RETENTION_DAYS", "0"),
        ("IIJBOT_EVENTS_RETENTION_DAYS", "ninety"),
    ],
)
def test_bad_event_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name) as err:
        Settings.from_env({name: value})
    assert value not in str(err.value) or name.endswith("DAYS")


def test_the_hash_key_is_never_shown_and_is_redacted_from_logs() -> None:
    key = "0123456789abcdef0123456789abcdef"
    s = Settings.from_env({"IIJBOT_HASH_KEY": key})
    assert key not in repr(s)
    assert key in s.secret_values()


def test_handoff_settings_are_typed_and_checked() -> None:
    s = Settings.from_env(
        {
            **FULL,
            "SLACK_HANDOFF_CHANNEL": "C0SUPPORT",
            "IIJBOT_SUPPORT_HOURS": "weekdays 09:30-17:00",
            "IIJBOT_HANDOFF_TTL": "1800",
        }
    )
    assert s.handoff_desk == "C0SUPPORT" and s.handoff_ttl == 1800
    assert s.support_hours is not None and s.support_hours.describe() == "平日 9:30〜17:00"
    assert Settings.from_env({"IIJBOT_SUPPORT_HOURS": "always"}).support_hours is None
    defaults = Settings.from_env({})
    assert defaults.handoff_desk is None and defaults.handoff_ttl == 4 * 3600
    assert defaults.support_hours is not None
    assert defaults.support_hours.describe() == "平日 9:00〜18:00"
    # The channel is only used when Slack is mounted to post there.
    assert Settings.from_env({"SLACK_HANDOFF_CHANNEL": "C0SUPPORT"}).handoff_desk is None
    for name, bad in (
        ("IIJBOT_SUPPORT_HOURS", "9-18"),
        ("IIJBOT_SUPPORT_HOURS", "weekdays 18:00-09:00"),
        ("IIJBOT_HANDOFF_TTL", "soon"),
        ("IIJBOT_HANDOFF_TTL", "10"),
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: bad})


def test_reminder_settings_are_typed() -> None:
    assert Settings.from_env({}).reminder_monthly_cap is None
    assert Settings.from_env({}).reminder_worker is True
    assert Settings.from_env({"IIJBOT_REMINDER_MONTHLY_CAP": "0"}).reminder_monthly_cap == 0
    for bad in ("-1", "many"):
        with pytest.raises(SettingsError, match="IIJBOT_REMINDER_MONTHLY_CAP"):
            Settings.from_env({"IIJBOT_REMINDER_MONTHLY_CAP": bad})
    with pytest.raises(SettingsError, match="IIJBOT_REMINDER_WORKER"):
        Settings.from_env({"IIJBOT_REMINDER_WORKER": "yes"})
    assert Settings.from_env({"IIJBOT_PUBLIC_URL": "https://b.example/"}).public_url == (
        "https://b.example"
    )
    with pytest.raises(SettingsError, match="IIJBOT_PUBLIC_URL"):
        Settings.from_env({"IIJBOT_PUBLIC_URL": "bot.example.com"})
