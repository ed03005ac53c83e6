"""The server's configuration, read once from the environment and validated up front.

A platform whose two secrets are not both present is simply not mounted (docs/design.md), so a
half-configured deployment starts and says what is missing instead of failing on the first
webhook. Secret values never appear in repr, str or error messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from core.store.base import DEFAULT_SESSION_TTL

DEFAULT_LINE_API_BASE_URL = "https://api.line.me"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_LOG_LEVEL = "INFO"

# Shorter than a minute would expire a user between two taps; longer than 30 days keeps
# personal answers (contract dates) around far longer than any flow needs.
MIN_SESSION_TTL = 60
MAX_SESSION_TTL = 30 * 24 * 3600

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster", "rediss+cluster")

LINE_SECRETS = ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN")
SLACK_SECRETS = ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")

# Every variable the server reads. The deploy files are checked against this list.
ENV_VARS = (
    "REDIS_URL",
    *LINE_SECRETS,
    "LINE_API_BASE_URL",
    *SLACK_SECRETS,
    "SLACK_API_URL",
    "IIJBOT_SESSION_TTL",
    "LOG_LEVEL",
    "IIJBOT_LOG_TEXT",
)
# Variables whose values are credentials (REDIS_URL may carry a password too).
SECRET_ENV_VARS = ("REDIS_URL", *LINE_SECRETS, *SLACK_SECRETS)


class SettingsError(ValueError):
    """A variable is set to something the server cannot use. The message names the variable
    and what is expected, never the secret value."""


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = field(default=None, repr=False)
    line_channel_secret: str | None = field(default=None, repr=False)
    line_channel_access_token: str | None = field(default=None, repr=False)
    line_api_base_url: str = DEFAULT_LINE_API_BASE_URL
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    session_ttl: int = DEFAULT_SESSION_TTL
    log_level: str = DEFAULT_LOG_LEVEL
    log_text: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        env = _Env(environ)
        return cls(
            redis_url=_redis_url(env.get("REDIS_URL")),
            line_channel_secret=env.get("LINE_CHANNEL_SECRET"),
            line_channel_access_token=env.get("LINE_CHANNEL_ACCESS_TOKEN"),
            line_api_base_url=_http_url(
                "LINE_API_BASE_URL", env.get("LINE_API_BASE_URL") or DEFAULT_LINE_API_BASE_URL
            ).rstrip("/"),
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET"),
            slack_bot_token=env.get("SLACK_BOT_TOKEN"),
            # slack_sdk joins method names onto base_url, so it must end with '/'.
            slack_api_url=_http_url(
                "SLACK_API_URL", env.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
            ).rstrip("/")
            + "/",
            session_ttl=_session_ttl(env.get("IIJBOT_SESSION_TTL")),
            log_level=_log_level(env.get("LOG_LEVEL")),
            log_text=_switch("IIJBOT_LOG_TEXT", env.get("IIJBOT_LOG_TEXT")),
        )

    @property
    def line_enabled(self) -> bool:
        return not self.line_missing

    @property
    def slack_enabled(self) -> bool:
        return not self.slack_missing

    @property
    def line_missing(self) -> tuple[str, ...]:
        """Names of the LINE variables that are not set (empty when LINE is mounted)."""
        values = (self.line_channel_secret, self.line_channel_access_token)
        return tuple(name for name, v in zip(LINE_SECRETS, values, strict=True) if not v)

    @property
    def slack_missing(self) -> tuple[str, ...]:
        values = (self.slack_signing_secret, self.slack_bot_token)
        return tuple(name for name, v in zip(SLACK_SECRETS, values, strict=True) if not v)

    def secret_values(self) -> tuple[str, ...]:
        """Every configured credential, for the log redaction filter."""
        out = [
            v
            for v in (
                self.line_channel_secret,
                self.line_channel_access_token,
                self.slack_signing_secret,
                self.slack_bot_token,
                _redis_password(self.redis_url),
            )
            if v
        ]
        return tuple(out)

    def __repr__(self) -> str:
        # Say which secrets are configured, never what they are.
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        flags = (
            f"redis_url={'set' if self.redis_url else 'unset'}",
            f"line={'on' if self.line_enabled else 'off'}",
            f"slack={'on' if self.slack_enabled else 'off'}",
        )
        return f"Settings({shown}, {', '.join(flags)})"

    __str__ = __repr__


class _Env:
    """Reads variables with surrounding whitespace dropped: a secret pasted from a file or a
    Kubernetes Secret often ends in a newline, and "" means the same as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None


def _redis_url(value: str | None) -> str | None:
    if value is None:
        return None
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in REDIS_SCHEMES or not rest:
        raise SettingsError(
            "REDIS_URL must look like redis://host:6379/0 (schemes: "
            + ", ".join(REDIS_SCHEMES)
            + "); unset it to keep sessions in memory"
        )
    return value


def _redis_password(url: str | None) -> str | None:
    if not url:
        return None
    userinfo, at, _ = url.partition("://")[2].rpartition("@")
    if not at:
        return None
    password = userinfo.partition(":")[2] if ":" in userinfo else userinfo
    return password or None


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an http(s) URL such as https://host/, got {value!r}")
    return value


def _session_ttl(value: str | None) -> int:
    if value is None:
        return DEFAULT_SESSION_TTL
    try:
        ttl = int(value)
    except ValueError:
        raise SettingsError(
            f"IIJBOT_SESSION_TTL must be a whole number of seconds, got {value!r}"
        ) from None
    if not MIN_SESSION_TTL <= ttl <= MAX_SESSION_TTL:
        raise SettingsError(
            f"IIJBOT_SESSION_TTL must be between {MIN_SESSION_TTL} and {MAX_SESSION_TTL}"
            f" seconds, got {ttl}"
        )
    return ttl


def _log_level(value: str | None) -> str:
    if value is None:
        return DEFAULT_LOG_LEVEL
    level = value.upper()
    if level == "WARN":
        level = "WARNING"
    if level not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


def _switch(name: str, value: str | None) -> bool:
    # Exactly 1 or 0: core.turn reads IIJBOT_LOG_TEXT itself and only "1" turns it on, so a
    # "true" that Settings accepted but the turn ignored would mislead the operator.
    if value is None or value == "0":
        return False
    if value == "1":
        return True
    raise SettingsError(f"{name} must be 1 (on) or 0 (off), got {value!r}")
