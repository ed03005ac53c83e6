"""One conversation's state, as stored (one JSON value per conversation)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

MAX_HISTORY = 10
MAX_RECENT = 3  # the masked messages a handoff card shows the operator


@dataclass(frozen=True)
class Frame:
    """A point to return to with 戻る: the node and the answers as they were there."""

    node: str
    answers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Session:
    node: str
    answers: tuple[tuple[str, str], ...] = ()  # slot -> value, sorted; dates as ISO strings
    history: tuple[Frame, ...] = ()
    no_match: int = 0
    version: int = 0  # set by the store on commit; the CAS compares against it
    flow_version: str = ""
    pending: tuple[str, ...] = field(default=())  # topic candidates offered for clarification
    # Handed to a person at this time (epoch seconds; 0: the bot answers). The bot stays
    # silent until an operator or the customer hands back, or the handoff TTL passes.
    handoff_at: float = 0.0
    recent: tuple[str, ...] = ()  # the last typed messages, already masked (core.handoff)

    def answer(self, slot: str) -> str | None:
        return dict(self.answers).get(slot)

    def with_answers(self, **values: str) -> Session:
        merged = dict(self.answers)
        merged.update(values)
        return replace(self, answers=tuple(sorted(merged.items())))

    def pushed(self, frame: Frame) -> Session:
        return replace(self, history=(*self.history, frame)[-MAX_HISTORY:])

    def remembering(self, masked: str) -> Session:
        """With one more typed message (masked by the caller) among the recent ones."""
        return replace(self, recent=(*self.recent, masked)[-MAX_RECENT:])

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "node": self.node,
            "answers": dict(self.answers),
            "history": [{"node": f.node, "answers": dict(f.answers)} for f in self.history],
            "no_match": self.no_match,
            "version": self.version,
            "flow_version": self.flow_version,
            "pending": list(self.pending),
        }
        # Only when set, so a session that never met them is stored as before.
        if self.handoff_at:
            doc["handoff_at"] = self.handoff_at
        if self.recent:
            doc["recent"] = list(self.recent)
        return json.dumps(
            doc,
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Session:
        d: dict[str, Any] = json.loads(raw)
        return cls(
            node=str(d["node"]),
            answers=tuple(sorted((str(k), str(v)) for k, v in d.get("answers", {}).items())),
            history=tuple(
                Frame(
                    node=str(f["node"]),
                    answers=tuple(sorted((str(k), str(v)) for k, v in f["answers"].items())),
                )
                for f in d.get("history", [])
            )[-MAX_HISTORY:],
            no_match=int(d.get("no_match", 0)),
            version=int(d.get("version", 0)),
            flow_version=str(d.get("flow_version", "")),
            pending=tuple(str(p) for p in d.get("pending", [])),
            handoff_at=float(d.get("handoff_at", 0.0)),
            recent=tuple(str(m) for m in d.get("recent", []))[-MAX_RECENT:],
        )
