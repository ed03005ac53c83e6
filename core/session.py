"""One conversation's state, as stored (one JSON value per conversation)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

MAX_HISTORY = 10


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

    def answer(self, slot: str) -> str | None:
        return dict(self.answers).get(slot)

    def with_answers(self, **values: str) -> Session:
        merged = dict(self.answers)
        merged.update(values)
        return replace(self, answers=tuple(sorted(merged.items())))

    def pushed(self, frame: Frame) -> Session:
        return replace(self, history=(*self.history, frame)[-MAX_HISTORY:])

    def to_json(self) -> str:
        return json.dumps(
            {
                "node": self.node,
                "answers": dict(self.answers),
                "history": [{"node": f.node, "answers": dict(f.answers)} for f in self.history],
                "no_match": self.no_match,
                "version": self.version,
                "flow_version": self.flow_version,
                "pending": list(self.pending),
            },
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
        )
