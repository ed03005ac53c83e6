"""The server's configuration, read once from the environment and validated up front.

A platform whose two secrets are not both present is simply not mounted (Settings.line or
Settings.slack is None), so a half-configured deployment starts and says what is missing
instead of failing on the first webhook. Secret values never appear in repr, str or error
messages. Everything else takes its configuration from here, never from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from core.handoff import DEFAULT_HOURS, DEFAULT_TTL, SupportHours
from core.store.base import DEFAULT_EVENTS_RETENTION_DAYS, DEFAULT_SESSION_TTL

DEFAULT_LINE_API_BASE_URL = "https://api.line.me"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_LOG_LEVEL = "INFO"

# Shorter than a minute would expire a user between two taps; longer than 30 days keeps
# personal answers (contract dates) around far longer than any flow needs.
MIN_SESSION_TTL = 60
MAX_SESSION_TTL = 30 * 24 * 3600

# Events feed a weekly report: under a day is useless, over ten years is hoarding.
MIN_EVENTS_RETENTION_DAYS = 1
MAX_EVENTS_RETENTION_DAYS = 3650
# The HMAC key that names conversations in the event stream: long enough not to be guessed.
MIN_HASH_KEY = 16

# A handoff shorter than a minute ends before an operator can read the card; longer than a
# week leaves a customer talking to nobody.
MIN_HANDOFF_TTL = 60
MAX_HANDOFF_TTL = 7 * 24 * 3600

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster", "rediss+cluster")

LINE_SECRETS = ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN")
SLACK_SECRETS = ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")
PLATFORM_SECRETS = (*LINE_SECRETS, *SLACK_SECRETS)

# Every variable the server reads. The deploy files are checked against this list.
ENV_VARS = (
    "REDIS_URL",
    *LINE_SECRETS,
    "LINE_API_BASE_URL",
    "LINE_WEBHOOK_REDELIVERY",
    "IIJBOT_FLOOD_BURST",
    *SLACK_SECRETS,
    "SLACK_API_URL",
    "IIJBOT_SESSION_TTL",
    "LOG_LEVEL",
    "IIJBOT_LOG_TEXT",
    "IIJBOT_HASH_KEY",
    "IIJBOT_REMINDER_MONTHLY_CAP",
    "IIJBOT_REMINDER_WORKER",
    "IIJBOT_PUBLIC_URL",
    "IIJBOT_EVENTS_RETENTION_DAYS",
    "SLACK_HANDOFF_CHANNEL",
    "IIJBOT_SUPPORT_HOURS",
    "IIJBOT_HANDOFF_TTL",
    "IIJBOT_METRICS_TOKEN",
    "IIJBOT_WEB_ORIGINS",
    "IIJBOT_WEB_SECRET",
    "IIJBOT_DEV",
)
# Variables whose values are credentials (REDIS_URL may carry a password too).
SECRET_ENV_VARS = (
    "REDIS_URL",
    *LINE_SECRETS,
    *SLACK_SECRETS,
    "IIJBOT_HASH_KEY",
    "IIJBOT_METRICS_TOKEN",
    "IIJBOT_WEB_SECRET",
)
# Turns one LINE conversation may take at once before it is asked to slow down (it earns
# one back a second; adapters/line/flood.py). 0 turns flood control off (load tests).
DEFAULT_FLOOD_BURST = 10
MAX_FLOOD_BURST = 1000
# A bearer token shorter than this is guessable by anyone who can reach the port.
MIN_METRICS_TOKEN = 16


class SettingsError(ValueError):
    """A variable is set to something the server cannot use. The message names the variable
    and what is expected, never the secret value."""


@dataclass(frozen=True)
class LineApi:
    """What calling the LINE Messaging API needs. `line-richmenu` needs only this; the
    webhook needs the channel secret too (LineSettings)."""

    access_token: str = field(repr=False)
    base_url: str = DEFAULT_LINE_API_BASE_URL


@dataclass(frozen=True)
class LineSettings:
    """LINE is mounted at /line/webhook: both secrets are set."""

    channel_secret: str = field(repr=False)
    api: LineApi
    # The channel has webhook redelivery on: a turn that cannot run is answered 500 so LINE
    # sends it again (dedupe makes that exactly-once), instead of 200 and a busy notice.
    webhook_redelivery: bool = False
    flood_burst: int = DEFAULT_FLOOD_BURST  # 0: no flood control


@dataclass(frozen=True)
class SlackSettings:
    """Slack is mounted at /slack/events: both secrets are set."""

    signing_secret: str = field(repr=False)
    bot_token: str = field(repr=False)
    api_url: str = DEFAULT_SLACK_API_URL  # ends with '/': slack_sdk joins method names on


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = field(default=None, repr=False)
    line: LineSettings | None = field(default=None, repr=False)  # None: LINE not mounted
    slack: SlackSettings | None = field(default=None, repr=False)  # None: Slack not mounted
    # Set whenever the access token is, with or without the channel secret.
    line_api: LineApi | None = field(default=None, repr=False)
    session_ttl: int = DEFAULT_SESSION_TTL
    log_level: str = DEFAULT_LOG_LEVEL
    log_text: bool = False
    # IIJBOT_HASH_KEY: names conversations in the event stream (HMAC). None: no events are
    # recorded by the server (the terminal chat makes up a key for its run).
    hash_key: str | None = field(default=None, repr=False)
    events_retention_days: int = DEFAULT_EVENTS_RETENTION_DAYS
    # SLACK_HANDOFF_CHANNEL: where handoff cards go (needs Slack mounted; the bot must be a
    # member). None: a handoff gives the support phone number and web form instead.
    handoff_channel: str | None = None
    # IIJBOT_SUPPORT_HOURS ("weekdays 09:00-18:00", JST; "always"): None means always.
    support_hours: SupportHours | None = field(
        default_factory=lambda: SupportHours.parse(DEFAULT_HOURS)
    )
    handoff_ttl: int = DEFAULT_TTL  # IIJBOT_HANDOFF_TTL, seconds
    # /metrics answers only `Authorization: Bearer <token>`; None: /metrics is not served.
    metrics_token: str | None = field(default=None, repr=False)
    # IIJBOT_WEB_ORIGINS: the origins (scheme://host[:port]) of pages that may embed the web
    # chat and call its API besides the chat's own origin.
    web_origins: tuple[str, ...] = ()
    # IIJBOT_WEB_SECRET: signs the web chat's session cookie. None: a random key per process
    # (cookies do not survive a restart and are not shared between replicas).
    web_secret: str | None = field(default=None, repr=False)
    # IIJBOT_DEV=1: the web chat's inspector (never in production: it shows sessions).
    dev: bool = False
    # IIJBOT_REMINDER_MONTHLY_CAP: LINE bills pushes, so reminders stop at this many a month
    # (None: no cap). IIJBOT_REMINDER_WORKER=0: `serve` leaves sending to `iijmio-bot worker`.
    reminder_monthly_cap: int | None = None
    reminder_worker: bool = True
    # IIJBOT_PUBLIC_URL: where customers reach this server (https://bot.example.com); with
    # it and IIJBOT_HASH_KEY a reminder's confirmation links a calendar file under it.
    public_url: str | None = None
    # Names of the platform secrets the environment left unset, so the log can say what a
    # platform that is not mounted lacks.
    unset: frozenset[str] = field(default=frozenset(PLATFORM_SECRETS), repr=False)
    # Every credential value found, including those of a half-configured platform: the log
    # must hide a secret whether or not its platform was mounted.
    credentials: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        env = _Env(environ)
        redis_url = _redis_url(env.get("REDIS_URL"))
        line_secret, line_token = (env.get(name) for name in LINE_SECRETS)
        slack_secret, slack_token = (env.get(name) for name in SLACK_SECRETS)
        line_base = _http_url("LINE_API_BASE_URL", DEFAULT_LINE_API_BASE_URL, env).rstrip("/")
        # slack_sdk joins method names onto its base URL, so it must end with '/'.
        slack_url = _http_url("SLACK_API_URL", DEFAULT_SLACK_API_URL, env).rstrip("/") + "/"
        line_api = LineApi(line_token, line_base) if line_token else None
        redelivery = _switch("LINE_WEBHOOK_REDELIVERY", env.get("LINE_WEBHOOK_REDELIVERY"))
        burst = _flood_burst(env.get("IIJBOT_FLOOD_BURST"))
        return cls(
            redis_url=redis_url,
            line=(
                LineSettings(
                    line_secret, line_api, webhook_redelivery=redelivery, flood_burst=burst
                )
                if line_secret and line_api
                else None
            ),
            slack=(
                SlackSettings(slack_secret, slack_token, slack_url)
                if slack_secret and slack_token
                else None
            ),
            line_api=line_api,
            session_ttl=_session_ttl(env.get("IIJBOT_SESSION_TTL")),
            log_level=_log_level(env.get("LOG_LEVEL")),
            log_text=_switch("IIJBOT_LOG_TEXT", env.get("IIJBOT_LOG_TEXT")),
            hash_key=_hash_key(env.get("IIJBOT_HASH_KEY")),
            events_retention_days=_retention(env.get("IIJBOT_EVENTS_RETENTION_DAYS")),
            handoff_channel=env.get("SLACK_HANDOFF_CHANNEL"),
            support_hours=_support_hours(env.get("IIJBOT_SUPPORT_HOURS")),
            handoff_ttl=_handoff_ttl(env.get("IIJBOT_HANDOFF_TTL")),
            metrics_token=_metrics_token(env.get("IIJBOT_METRICS_TOKEN")),
            web_origins=_origins(env.get("IIJBOT_WEB_ORIGINS")),
            web_secret=_hash_key(env.get("IIJBOT_WEB_SECRET"), "IIJBOT_WEB_SECRET"),
            dev=_switch("IIJBOT_DEV", env.get("IIJBOT_DEV")),
            reminder_monthly_cap=_cap(env.get("IIJBOT_REMINDER_MONTHLY_CAP")),
            reminder_worker=_switch(
                "IIJBOT_REMINDER_WORKER", env.get("IIJBOT_REMINDER_WORKER") or "1"
            ),
            public_url=_public_url(env.get("IIJBOT_PUBLIC_URL")),
            unset=frozenset(name for name in PLATFORM_SECRETS if env.get(name) is None),
            credentials=tuple(
                v for v in (line_secret, line_token, slack_secret, slack_token) if v is not None
            ),
        )

    @property
    def hash_key_bytes(self) -> bytes | None:
        return self.hash_key.encode() if self.hash_key is not None else None

    @property
    def handoff_desk(self) -> str | None:
        """The channel handoff cards go to, when Slack is mounted to post them."""
        return self.handoff_channel if self.slack is not None else None

    @property
    def line_missing(self) -> tuple[str, ...]:
        """Names of the LINE variables that are not set (empty when LINE is mounted)."""
        return () if self.line else tuple(n for n in LINE_SECRETS if n in self.unset)

    @property
    def slack_missing(self) -> tuple[str, ...]:
        return () if self.slack else tuple(n for n in SLACK_SECRETS if n in self.unset)

    def secret_values(self) -> tuple[str, ...]:
        """Every configured credential, for the log redaction filter."""
        found = [
            *self.credentials,
            _redis_password(self.redis_url),
            self.hash_key,
            self.metrics_token,
            self.web_secret,
        ]
        if self.line is not None:
            found += [self.line.channel_secret, self.line.api.access_token]
        if self.line_api is not None:
            found.append(self.line_api.access_token)
        if self.slack is not None:
            found += [self.slack.signing_secret, self.slack.bot_token]
        return tuple(dict.fromkeys(v for v in found if v))

    def __repr__(self) -> str:
        # Say which secrets are configured, never what they are.
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        flags = (
            f"redis_url={'set' if self.redis_url else 'unset'}",
            f"line={'on' if self.line else 'off'}",
            f"slack={'on' if self.slack else 'off'}",
            f"hash_key={'set' if self.hash_key else 'unset'}",
            f"metrics={'token' if self.metrics_token else 'off'}",
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


def _http_url(name: str, default: str, env: _Env) -> str:
    value = env.get(name) or default
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


def _flood_burst(value: str | None) -> int:
    if value is None:
        return DEFAULT_FLOOD_BURST
    try:
        burst = int(value)
    except ValueError:
        burst = -1
    if not 0 <= burst <= MAX_FLOOD_BURST:
        raise SettingsError(
            f"IIJBOT_FLOOD_BURST must be a whole number from 0 (off) to {MAX_FLOOD_BURST},"
            f" got {value!r}"
        )
    return burst


def _metrics_token(value: str | None) -> str | None:
    if value is not None and len(value) < MIN_METRICS_TOKEN:
        raise SettingsError(
            f"IIJBOT_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} characters"
            " (e.g. openssl rand -hex 24); unset it to turn /metrics off"
        )
    return value


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
    # Exactly 1 or 0, as documented: anything else is more likely a typo than a wish, and
    # guessing wrong here either logs what customers typed or silently does not.
    if value is None or value == "0":
        return False
    if value == "1":
        return True
    raise SettingsError(f"{name} must be 1 (on) or 0 (off), got {value!r}")


def _hash_key(value: str | None, name: str = "IIJBOT_HASH_KEY") -> str | None:
    if value is not None and len(value) < MIN_HASH_KEY:
        unset = "record no events" if name == "IIJBOT_HASH_KEY" else "use a key per process"
        raise SettingsError(
            f"{name} must be at least {MIN_HASH_KEY} characters"
            f" (e.g. `openssl rand -hex 32`); unset it to {unset}"
        )
    return value


def _origins(value: str | None) -> tuple[str, ...]:
    """Comma- or space-separated origins, each scheme://host[:port] with nothing after."""
    if value is None:
        return ()
    out: list[str] = []
    for item in value.replace(",", " ").split():
        parts = urlsplit(item)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise SettingsError(
                "IIJBOT_WEB_ORIGINS must list origins like https://www.iijmio.jp"
                f" (scheme and host, no path), got {item!r}"
            )
        out.append(item.rstrip("/").lower())
    return tuple(dict.fromkeys(out))


def _retention(value: str | None) -> int:
    if value is None:
        return DEFAULT_EVENTS_RETENTION_DAYS
    try:
        days = int(value)
    except ValueError:
        raise SettingsError(
            f"IIJBOT_EVENTS_RETENTION_DAYS must be a whole number of days, got {value!r}"
        ) from None
    if not MIN_EVENTS_RETENTION_DAYS <= days <= MAX_EVENTS_RETENTION_DAYS:
        raise SettingsError(
            f"IIJBOT_EVENTS_RETENTION_DAYS must be between {MIN_EVENTS_RETENTION_DAYS} and"
            f" {MAX_EVENTS_RETENTION_DAYS}, got {days}"
        )
    return days


def _support_hours(value: str | None) -> SupportHours | None:
    if value is None:
        return SupportHours.parse(DEFAULT_HOURS)
    if value.lower() == "always":
        return None
    try:
        return SupportHours.parse(value)
    except ValueError:
        raise SettingsError(
            "IIJBOT_SUPPORT_HOURS must be like 'weekdays 09:00-18:00' or 'daily 10:00-17:00'"
            f" (JST), or 'always'; got {value!r}"
        ) from None


def _handoff_ttl(value: str | None) -> int:
    if value is None:
        return DEFAULT_TTL
    try:
        ttl = int(value)
    except ValueError:
        raise SettingsError(
            f"IIJBOT_HANDOFF_TTL must be a whole number of seconds, got {value!r}"
        ) from None
    if not MIN_HANDOFF_TTL <= ttl <= MAX_HANDOFF_TTL:
        raise SettingsError(
            f"IIJBOT_HANDOFF_TTL must be between {MIN_HANDOFF_TTL} and {MAX_HANDOFF_TTL}"
            f" seconds, got {ttl}"
        )
    return ttl


def _cap(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        cap = int(value)
    except ValueError:
        raise SettingsError(
            f"IIJBOT_REMINDER_MONTHLY_CAP must be a whole number of pushes, got {value!r}"
        ) from None
    if cap < 0:
        raise SettingsError(f"IIJBOT_REMINDER_MONTHLY_CAP cannot be negative, got {cap}")
    return cap


def _public_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith(("https://", "http://")):
        raise SettingsError(f"IIJBOT_PUBLIC_URL must be an http(s) URL, got {value!r}")
    return value.rstrip("/")
