"""Sending due reminders: claim, check, send, forget.

Any number of workers (replicas of `serve`, or `iijmio-bot worker`) may run on
one Redis: a claim hands each due reminder to one of them (core/remind/book.py). A
reminder whose deadline has passed is dropped unsent; one sent late (the process was
down at its time) says so. A failed send is tried again when its lease ends; LINE's
retry key (the reminder's own id) keeps a repeated push single.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from core.clock import Clock, to_jst
from core.inbound import ConversationKey
from core.metrics import REMINDERS
from core.remind.book import DEFAULT_LEASE, Claimed
from core.remind.plan import out_of_quiet_hours
from core.remind.service import Reminders
from core.reply import Reply
from core.store.base import StoreUnavailable

log = logging.getLogger("iijbot.remind")

# (conversation, delivery id, message) → delivered. The delivery id is the same for every
# attempt at one reminder: the platform's idempotency key.
Deliver = Callable[[ConversationKey, str, Reply], Awaitable[bool]]

DEFAULT_INTERVAL = 20.0  # seconds between looks at the due index
BILLED = "line"  # the platform whose pushes are billed and capped


class ReminderWorker:
    def __init__(
        self,
        reminders: Reminders,
        clock: Clock,
        deliver: Mapping[str, Deliver],
        *,
        monthly_cap: int | None = None,
        batch: int = 50,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        """deliver: one sender per platform that can send; a reminder of any other
        platform (the terminal chat) is dropped as undeliverable at its time.
        monthly_cap: LINE pushes a month at most (None: no cap)."""
        self._reminders = reminders
        self._book = reminders.book
        self._clock = clock
        self._deliver = dict(deliver)
        self._cap = monthly_cap
        self._batch = batch
        self._lease = lease

    async def run_once(self) -> int:
        """Send what is due now; the number of reminders delivered."""
        now = self._clock.now()
        sent = 0
        for item in await self._book.claim(now, self._batch, self._lease):
            sent += await self._one(item)
        return sent

    async def _one(self, item: Claimed) -> int:
        key, reminder = item.key, item.reminder
        now = self._clock.now()
        rid = reminder.id
        if reminder.deadline <= now:
            await self._book.done(key, rid)
            REMINDERS.labels(key.platform, "past").inc()
            return 0
        # Only a late reminder (no worker ran at its time) can come due in the quiet hours:
        # it waits for their end, or is dropped if the deadline comes first.
        allowed = out_of_quiet_hours(now, self._reminders.schedule)
        if allowed > now:
            if allowed >= reminder.deadline:
                await self._book.done(key, rid)
                REMINDERS.labels(key.platform, "quiet").inc()
                return 0
            await self._book.postpone(key, rid, allowed)
            return 0
        deliver = self._deliver.get(key.platform)
        if deliver is None:
            await self._book.done(key, rid)
            REMINDERS.labels(key.platform, "undeliverable").inc()
            return 0
        month = f"{to_jst(now):%Y-%m}"
        if await self._over_cap(key, month):
            await self._book.done(key, rid)
            REMINDERS.labels(key.platform, "capped").inc()
            log.warning("reminder not sent: monthly LINE push cap %s reached", self._cap)
            return 0
        delivery_id = f"reminder:{key.tag}:{rid}"
        if not await deliver(key, delivery_id, self._reminders.message(reminder, now)):
            REMINDERS.labels(key.platform, "failed").inc()
            return 0  # claimed still: comes due again when the lease ends
        await self._book.done(key, rid)
        if key.platform == BILLED:
            await self._book.count_push(month)
        REMINDERS.labels(key.platform, "sent").inc()
        return 1

    async def _over_cap(self, key: ConversationKey, month: str) -> bool:
        if key.platform != BILLED or self._cap is None:
            return False
        return await self._book.pushes(month) >= self._cap

    async def run(self, stop: asyncio.Event, interval: float = DEFAULT_INTERVAL) -> None:
        """Until stop is set. A Redis outage is logged and waited out, never fatal."""
        while not stop.is_set():
            try:
                await self.run_once()
            except StoreUnavailable as exc:
                log.warning("reminders: store unavailable (%s)", exc)
            except Exception:
                log.exception("reminders: a round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
