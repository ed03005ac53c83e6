"""Old LINE events are not run again.

A body captured on its way to us (a proxy log, a leaked request dump) stays validly signed
for ever. Within the dedupe window its event id stops it; after that it would run the turn
again and, its reply token long spent, answer with a push that LINE bills. LINE stamps
every event with the time it happened, so an event older than the dedupe window is refused,
unless LINE says it is a redelivery (isRedelivery) and it is still within the period LINE
redelivers for: then we never answered it, and running it now is what redelivery is for.
"""

from __future__ import annotations

from datetime import datetime

from core.turn import DEDUPE_WINDOW

# LINE retries a webhook it could not deliver for a limited time; its documentation does
# not give a figure, so one day bounds it generously.
REDELIVERY_PERIOD = 24 * 3600


def too_old(timestamp_ms: int | None, redelivery: bool, now: datetime) -> bool:
    """Whether an event stamped `timestamp_ms` (LINE's milliseconds since the epoch) must
    be ignored at `now`. No stamp: nothing to judge by (LINE always sends one)."""
    if timestamp_ms is None:
        return False
    age = now.timestamp() - timestamp_ms / 1000
    return age > (REDELIVERY_PERIOD if redelivery else DEDUPE_WINDOW)
