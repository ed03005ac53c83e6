"""Composes reminders for a process: the book beside the session store, the platform
clients (Slack's also schedules reminders in the turn, so it runs whether or not this
process runs the worker), and the worker loop (inside `serve`, or `iijmio-bot worker`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bots.settings import Settings, SettingsError
from core.clock import Clock, ShiftedClock, SystemClock
from core.remind.book import MemoryReminderBook, RedisReminderBook, ReminderBook
from core.remind.calendar import CalendarLinks
from core.remind.hosted import HostedScheduler
from core.remind.service import Reminders
from core.remind.worker import DEFAULT_INTERVAL, Deliver, ReminderWorker
from core.store import RedisSessionStore, store_from_url
from core.store.base import SessionStore

if TYPE_CHECKING:
    from adapters.slack.remind import SlackReminders

log = logging.getLogger("iijbot.remind")


class _Sender(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def book_for(store: SessionStore) -> ReminderBook:
    """Reminders live where the sessions do: Redis, or this process's memory."""
    if isinstance(store, RedisSessionStore):
        return RedisReminderBook(store.client)
    return MemoryReminderBook()


class ReminderRuntime:
    def __init__(self, settings: Settings, store: SessionStore, clock: Clock) -> None:
        calendar = None
        if settings.public_url and settings.hash_key_bytes:
            calendar = CalendarLinks(settings.public_url, settings.hash_key_bytes)
        hosted: dict[str, HostedScheduler] = {}
        self._slack: SlackReminders | None = None
        if settings.slack is not None:
            # Imported here: the platform SDKs cost the terminal chat a second at start.
            from adapters.slack.remind import SlackReminders

            self._slack = SlackReminders(settings.slack.bot_token, settings.slack.api_url)
            hosted["slack"] = self._slack
        self.reminders = Reminders(book_for(store), calendar=calendar, hosted=hosted)
        self._settings = settings
        self._clock = clock
        self._senders: list[_Sender] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """The platform clients a turn uses: Slack's schedules and cancels reminders."""
        if self._slack is not None and self._slack not in self._senders:
            await self._slack.start()
            self._senders.append(self._slack)

    async def start_worker(self, interval: float = DEFAULT_INTERVAL) -> None:
        await self.start()
        deliver: dict[str, Deliver] = {}
        if self._settings.line_api is not None:
            from adapters.line.remind import LineReminderSender

            line = LineReminderSender(
                self._settings.line_api.access_token, self._settings.line_api.base_url
            )
            await line.start()
            self._senders.append(line)
            deliver["line"] = line
        if self._slack is not None:
            # The reminders Slack refused to schedule (too far ahead, or unreachable then).
            deliver["slack"] = self._slack
        worker = ReminderWorker(
            self.reminders, self._clock, deliver, monthly_cap=self._settings.reminder_monthly_cap
        )
        self._stop.clear()
        self._task = asyncio.create_task(worker.run(self._stop, interval))
        log.info(
            "reminder worker started",
            extra={"platforms": ",".join(deliver) or "none", "interval": interval},
        )

    def calendar_file(self, signed: str) -> bytes | None:
        return self.reminders.calendar_file(signed, self._clock.now())

    async def wait(self) -> None:
        """Until the worker stops (`iijmio-bot worker` runs this until a signal)."""
        if self._task is not None:
            await self._task

    async def stop_worker(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop(self) -> None:
        """The worker, then every platform client (also when no worker ran)."""
        await self.stop_worker()
        for sender in self._senders:
            await sender.stop()
        self._senders.clear()


async def run_worker(
    settings: Settings, clock: Clock, stop: asyncio.Event, interval: float = DEFAULT_INTERVAL
) -> None:
    """`iijmio-bot worker`: send due reminders until stop is set."""
    store = store_from_url(settings.redis_url, ttl=settings.session_ttl)
    runtime = ReminderRuntime(settings, store, clock)
    try:
        await runtime.start_worker(interval)
        await stop.wait()
    finally:
        await runtime.stop()
        await store.close()


def run_worker_process(
    interval: float | None = None,
    metrics: tuple[str, int] | None = None,
    now: datetime | None = None,
) -> int:
    """The process around run_worker: settings, logging, SIGINT/SIGTERM. interval: seconds
    between rounds (None: DEFAULT_INTERVAL); metrics: (host, port) for /metrics; now: the
    clock starts at this time instead of the wall's (`--now`)."""
    from bots.logging_setup import configure_logging
    from bots.worker_metrics import MetricsServer

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"iijmio-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    if settings.redis_url is None:
        # In memory, a separate process would see none of the reminders serve keeps.
        print("iijmio-bot: worker needs REDIS_URL (the Redis serve uses)", file=sys.stderr)
        return 2
    configure_logging(settings)
    server = None
    if metrics is not None and settings.metrics_token is None:
        log.warning("IIJBOT_METRICS_TOKEN is not set: the worker serves no /metrics")
    elif metrics is not None and settings.metrics_token is not None:
        try:
            server = MetricsServer(*metrics, settings.metrics_token)
        except (OSError, OverflowError) as exc:  # taken, or no port: one line, no traceback
            print(f"iijmio-bot: cannot serve metrics on {metrics[1]}: {exc}", file=sys.stderr)
            return 2
        server.start()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        clock: Clock = SystemClock() if now is None else ShiftedClock(now)
        if now is not None:
            log.warning("worker clock shifted: it acts as if it were %s", clock.now().isoformat())
        await run_worker(settings, clock, stop, interval or DEFAULT_INTERVAL)

    try:
        asyncio.run(main())
    finally:
        if server is not None:
            server.stop()
    return 0
