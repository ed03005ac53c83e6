"""The seam to a platform that keeps and sends a reminder itself (Slack:
chat.scheduleMessage), so no worker of ours has to be running at its time.

The platform's handle for a scheduled message is an opaque string, written and read by
the adapter only (adapters may not import this package, so a value class here could not
be built by them): it is kept beside the reminder in the conversation's reminders hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.inbound import ConversationKey
from core.reply import Reply

HostedId = str


class HostedScheduler(Protocol):
    async def schedule(
        self, key: ConversationKey, post_at: datetime, message: Reply
    ) -> HostedId | None:
        """Have the platform send `message` to the conversation at `post_at`; its handle,
        or None when the platform refused or could not be reached (the caller then keeps
        the reminder for our own worker: a reminder is never lost). Never raises."""
        ...

    async def cancel(self, key: ConversationKey, hosted_id: HostedId) -> bool:
        """Withdraw a scheduled message. True when the platform will not send it (any
        more): deleted now, or already sent or gone (it no longer knows the id); False
        when the platform refused or could not be reached. Never raises."""
        ...
