"""The NLU phrase tables (tests/data/nlu_*.yaml): load them and score understand() on them.

Every case is understood at the node the customer is at (the menu unless `node:` says
otherwise), with the Expectation the real flow gives there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from core.dialogue import default_dialogue
from core.intent import Intent, IntentKind
from core.nlu import understand
from core.session import Session

DATA = Path(__file__).resolve().parent / "data"
REASK = {IntentKind.BAD_DATE, IntentKind.UNKNOWN}


@dataclass(frozen=True)
class Case:
    text: str
    kind: str  # an IntentKind value, or "reask" (bad_date or unknown both re-ask)
    value: str | None = None
    candidates: tuple[str, ...] = ()  # for ambiguous: topics that must all be offered
    date: date | None = None
    node: str | None = None


def load_cases(name: str) -> tuple[date, list[Case]]:
    raw: dict[str, Any] = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    cases = [
        Case(
            text=str(c["text"]),
            kind=str(c["kind"]),
            value=None if "value" not in c else str(c["value"]),
            candidates=tuple(c.get("candidates", ())),
            # Older tables give a date case's day as its value.
            date=c.get("date")
            or (date.fromisoformat(str(c["value"])) if c["kind"] == "date" else None),
            node=c.get("node"),
        )
        for c in raw["cases"]
    ]
    return raw["today"], cases


def agrees(case: Case, got: Intent) -> bool:
    if case.date is not None and got.kind is IntentKind.DATE and got.date == case.date:
        return True
    if case.kind == "reask":
        return got.kind in REASK
    if case.kind == "unknown" and got.kind is IntentKind.OFF_TOPIC:
        # Both lead to the menu; off-topic also says what the bot helps with (issue 7).
        return True
    if case.kind == "topic" and got.kind is IntentKind.CHOICE:
        # At the menu a topic's own button routes to the same node.
        return got.value == case.value
    if got.kind.value != case.kind:
        return False
    if case.kind == "date":
        return got.date == case.date
    if case.value is not None and got.value != case.value:
        return False
    return set(case.candidates) <= set(got.candidates)


def accuracy(name: str) -> tuple[float, list[str]]:
    dialogue = default_dialogue()
    today, cases = load_cases(name)
    misses = []
    for case in cases:
        session = (
            None
            if case.node is None
            else Session(node=case.node, flow_version=dialogue.flow_version)
        )
        got = understand(case.text, dialogue.expectation(session), today)
        if not agrees(case, got):
            want = case.value or case.date or case.candidates or ""
            misses.append(
                f"[{case.node or 'menu'}] {case.text!r}: want {case.kind} {want}, "
                f"got {got.kind.value} {got.value or got.date or got.candidates}"
            )
    return 1 - len(misses) / len(cases), misses


def assert_accuracy(name: str, floor: float) -> None:
    """Score ``name``, print the figure and every miss (pytest -s), fail below ``floor``."""
    score, misses = accuracy(name)
    print(f"\n{name.removesuffix('.yaml')} accuracy: {score:.1%}", *misses, sep="\n  ")
    assert score >= floor, "\n".join(misses)
