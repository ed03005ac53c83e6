"""One log line per event, key=value (logfmt), with secrets scrubbed before anything is written.

Log collectors (Docker, Kubernetes) split on newlines, so a multi-line traceback is folded
into one `exc=` field. The redaction runs on the handler, so records from every library
(uvicorn, slack_sdk, aiohttp, redis) pass through it, not just ours.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from bots.settings import Settings

REDACTED = "***"

# Shapes of credentials worth hiding even when they are not our configured ones: Slack
# tokens, bearer headers and user:password@ in URLs.
_PATTERNS = (
    re.compile(r"xox[abposr]-[A-Za-z0-9-]+"),
    re.compile(r"((?i:bearer)\s+)[A-Za-z0-9._~+/=-]+"),  # the one group: kept in the output
    re.compile(r"(?<=://)[^@/\s:]*:[^@/\s]*@"),
)

# Attributes every LogRecord has; anything else came from `extra=` and is logged as a field
# (uvicorn's color_message duplicates msg with terminal escapes).
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class RedactingFilter(logging.Filter):
    """Replaces configured secrets and token-shaped strings in the final message text.

    Secrets and patterns are one compiled alternation, so each string is scanned once
    (every request logs a line; this runs on each of its fields)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        alternatives = [re.escape(s) for s in ordered] + [p.pattern for p in _PATTERNS]
        self._any = re.compile("|".join(f"(?:{a})" for a in alternatives))

    def redact(self, text: str) -> str:
        if not self._any.search(text):
            return text
        return self._any.sub(_replacement, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.exc_info = None  # the redacted exc_text is what gets written
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, self.redact(value))
        return True


def _replacement(match: re.Match[str]) -> str:
    # "Bearer abc" keeps its "Bearer " (the pattern's only group); anything else goes whole.
    prefix = match.group(1)
    return (prefix or "") + REDACTED


class LogfmtFormatter(logging.Formatter):
    """ts=… level=… logger=… msg="…" plus any `extra=` fields, on a single line."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._prefix = ""

    def _timestamp(self, created: float) -> str:
        # The date and time to the second change once a second, not once a line.
        second = int(created)
        if second != self._second:
            at = datetime.fromtimestamp(second, UTC)
            self._second, self._prefix = second, at.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        pairs: list[tuple[str, object]] = [
            ("ts", self._timestamp(record.created)),
            ("level", record.levelname),
            ("logger", record.name),
            ("msg", record.getMessage()),
        ]
        pairs += [(k, v) for k, v in vars(record).items() if k not in _STANDARD]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            pairs.append(("exc", record.exc_text))
        return " ".join(f"{key}={_value(val)}" for key, val in pairs)


_NEEDS_QUOTES = re.compile(r'[ ="\\\n\r\t]')
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _value(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and not _NEEDS_QUOTES.search(text):
        return text
    return '"' + text.translate(_ESCAPES) + '"'


def configure_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Route every logger through one redacting logfmt handler on stderr at LOG_LEVEL.
    Returns the handler (tests read what it wrote)."""
    # Nothing we write needs the caller's file and line, thread or process names: skip
    # computing them for every record (the logging HOWTO's "Optimization" switches).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    handler.addFilter(RedactingFilter(settings.secret_values()))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # uvicorn may have installed its own handlers and levels (an earlier Config in this
    # process); make its loggers use ours and follow LOG_LEVEL.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.setLevel(logging.NOTSET)
        lg.propagate = True
    return handler
