"""Composes reminders for a process: the book beside the session store, the senders of
the configured platforms, and the worker loop (inside `serve`, or `remind-worker`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from adapters.line.remind import LineReminderSender
from adapters.slack.remind import SlackReminderSender
from bots.settings import Settings
from core.clock import Clock
from core.remind.book import MemoryReminderBook, RedisReminderBook, ReminderBook
from core.remind.service import Reminders
from core.remind.worker import DEFAULT_INTERVAL, Deliver, ReminderWorker
from core.store import RedisSessionStore
from core.store.base import SessionStore

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
        self.reminders = Reminders(book_for(store))
        self._settings = settings
        self._clock = clock
        self._senders: list[_Sender] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start_worker(self, interval: float = DEFAULT_INTERVAL) -> None:
        deliver: dict[str, Deliver] = {}
        if self._settings.line_api is not None:
            line = LineReminderSender(
                self._settings.line_api.access_token, self._settings.line_api.base_url
            )
            await line.start()
            self._senders.append(line)
            deliver["line"] = line
        if self._settings.slack is not None:
            slack = SlackReminderSender(
                self._settings.slack.bot_token, self._settings.slack.api_url
            )
            await slack.start()
            self._senders.append(slack)
            deliver["slack"] = slack
        worker = ReminderWorker(
            self.reminders, self._clock, deliver, monthly_cap=self._settings.reminder_monthly_cap
        )
        self._stop.clear()
        self._task = asyncio.create_task(worker.run(self._stop, interval))
        log.info(
            "reminder worker started",
            extra={"platforms": ",".join(deliver) or "none", "interval": interval},
        )

    async def wait(self) -> None:
        """Until the worker stops (remind-worker runs this until a signal)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for sender in self._senders:
            await sender.stop()
        self._senders.clear()
