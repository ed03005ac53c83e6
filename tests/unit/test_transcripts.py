"""Conversations as data: what the user types, what the bot must say (tests/transcripts/).

Each turn runs the real understanding and the real engine with a fixed JST `now`:
no Redis, no clock. A turn is `user:` (typed text), `button:` (a pressed button;
`button_node:` the message it came from, default the current node) or `start: true`.
`expire: true` drops the session first, as an idle timeout would. `handoff:` / `feedback:`
name what the reply asks of the turn runner (issue 9); a turn without them asks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.clock import JST
from core.dialogue import default_dialogue
from core.intent import Intent, IntentKind
from core.nlu import understand
from core.reply import Reply
from core.session import Session

DIR = Path(__file__).parent.parent / "transcripts"


@dataclass(frozen=True)
class Conversation:
    file: str
    name: str
    now: datetime
    turns: tuple[dict[str, Any], ...]


def _load() -> list[Conversation]:
    out = []
    for path in sorted(DIR.glob("*.yaml")):
        for conv in yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]:
            now = datetime.fromisoformat(str(conv["now"])).astimezone(JST)
            out.append(Conversation(path.stem, conv["name"], now, tuple(conv["turns"])))
    return out


CONVERSATIONS = _load()


def _intent(turn: dict[str, Any], session: Session | None, now: datetime) -> Intent:
    dialogue = default_dialogue()
    if turn.get("start"):
        return Intent(IntentKind.START)
    if "button" in turn:
        current = dialogue.expectation(session).node
        return Intent(IntentKind.CHOICE, str(turn["button"]), node=turn.get("button_node", current))
    return understand(str(turn["user"]), dialogue.expectation(session), now.date())


def run(conv: Conversation) -> list[tuple[Session | None, Reply]]:
    """Play a conversation, checking each turn; returns what each turn produced."""
    dialogue = default_dialogue()
    session: Session | None = None
    seen = []
    for i, turn in enumerate(conv.turns):
        where = f"{conv.file}: {conv.name}: turn {i + 1} ({turn})"
        now = (
            datetime.fromisoformat(str(turn["now"])).astimezone(JST) if "now" in turn else conv.now
        )
        expired = bool(turn.get("expire"))
        if expired:
            session = None
        session, reply = dialogue.step(session, _intent(turn, session, now), now, expired=expired)
        reply.validate()
        text = "\n".join(reply.readable_texts())
        for want in turn.get("says", []):
            assert want in text, f"{where}: expected {want!r} in:\n{text}"
        for unwanted in turn.get("not_says", []):
            assert unwanted not in text, f"{where}: did not expect {unwanted!r} in:\n{text}"
        if "node" in turn:
            assert reply.node == turn["node"], f"{where}: at {reply.node}, expected {turn['node']}"
            assert session is not None and session.node == turn["node"], where
        labels = [c.label for c in reply.choices]
        for label in turn.get("buttons", []):
            assert label in labels, f"{where}: no button {label!r} in {labels}"
        assert reply.handoff == turn.get("handoff", ""), f"{where}: handoff {reply.handoff!r}"
        assert reply.feedback == turn.get("feedback", ""), f"{where}: feedback {reply.feedback!r}"
        if turn.get("ends"):
            assert session is None, where
        if turn.get("asks_date"):
            assert reply.asks_date, where
        seen.append((session, reply))
    return seen


@pytest.mark.parametrize("conv", CONVERSATIONS, ids=[f"{c.file}:{c.name}" for c in CONVERSATIONS])
def test_transcript(conv: Conversation) -> None:
    run(conv)


def test_transcripts_visit_every_answer_and_rule() -> None:
    """Together the transcripts show every answer card (F1–F15) and cite every rule R1–R7."""
    flow = default_dialogue().flow
    visited: set[str] = set()
    for conv in CONVERSATIONS:
        visited |= {reply.node for _, reply in run(conv)}
    answers = {n.id for n in flow.nodes.values() if n.kind == "answer"}
    assert answers - visited == set()
    assert set(flow.topics.values()) and {t.node for t in flow.topics.values()} <= visited
    rules = {r for nid in visited & answers for r in flow.node(nid).rules}
    assert rules >= {f"R{i}" for i in range(1, 8)}
