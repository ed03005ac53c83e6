"""Every reply a user can reach in the shipped flow, for the renderers' limit tests.

Each platform test renders what this yields and checks its own limits; the walk itself
(press every button, pick boundary dates, slip, ask for help) lives here once."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta

from core.clock import JST
from core.dialogue import default_dialogue, load_flow
from core.dialogue.model import NodeKind
from core.handoff import HandoffPolicy, SupportHours, carry_out
from core.intent import Command, Intent, IntentKind
from core.reply import Reply
from core.session import Session

NOWS = (
    datetime(2026, 6, 22, 10, 0, tzinfo=JST),
    datetime(2026, 6, 30, 20, 30, tzinfo=JST),  # month's last day, after the 20:00 cut-off
)
MAX_STATES = 5000
# A handoff is said by the turn runner, per route and platform (core/handoff.py): the walk
# yields each version the customer can receive. Open hours cover the first `now`, not the
# second, so both the live and the out-of-hours wording are walked.
HANDOFF_POLICIES = (
    HandoffPolicy(hours=SupportHours.parse("weekdays 09:00-18:00"), desk_ready=True),
    HandoffPolicy(desk_ready=False),
)
HANDOFF_PLATFORMS = ("line", "slack")


def _intents(reply: Reply, now: datetime) -> list[Intent]:
    out = [Intent(IntentKind.CHOICE, value=c.value, node=reply.node) for c in reply.choices]
    q = reply.date_question
    if q is not None:
        days = {q.initial, q.min, q.max, now.date() - timedelta(days=3), now.date().replace(day=1)}
        out += [Intent(IntentKind.DATE, date=d) for d in sorted(days) if q.min <= d <= q.max]
    out += [
        Intent(IntentKind.NO_INPUT),
        Intent(IntentKind.UNKNOWN),
        Intent(IntentKind.COMMAND, value=Command.HELP.value),
    ]
    return out


def reachable_replies(nows: tuple[datetime, ...] = NOWS) -> Iterator[Reply]:
    dialogue = default_dialogue()
    states = 0
    for now in nows:
        first_session, first = dialogue.step(None, Intent(IntentKind.START), now)
        queue: deque[tuple[Session | None, Reply]] = deque([(first_session, first)])
        seen: set[str] = set()
        while queue:
            session, reply = queue.popleft()
            yield reply
            if session is None:
                continue
            if reply.handoff:
                for policy in HANDOFF_POLICIES:
                    for platform in HANDOFF_PLATFORMS:
                        yield carry_out(policy, session, reply, platform, now)[1]
            for intent in _intents(reply, now):
                nxt_session, nxt_reply = dialogue.step(session, intent, now)
                # Kept answers and histories make the state space combinatorial; what must
                # render is every distinct reply, so a reply seen once is not expanded again.
                sig = repr(nxt_reply)
                if sig in seen:
                    continue
                seen.add(sig)
                states += 1
                assert states < MAX_STATES, "flow walk did not converge"
                queue.append((nxt_session, nxt_reply))


def resting_nodes() -> set[str]:
    """The nodes a user can stand on (switches only route, they are never shown)."""
    return {
        n.id
        for n in load_flow().nodes.values()
        if n.kind not in (NodeKind.SWITCH, NodeKind.HANDOFF)  # a handoff keeps them in place
    }
