"""Score a set of first messages (tests/data/nlu_first_messages.yaml format) through the real
pipeline: understand → FlowDialogue.step(None, intent, now), as core/turn.py runs a first turn.

Reusable on any file of that format (the lead's holdout too):
    .venv/bin/python -m tests.first_messages PATH [PATH ...]

A case is correct when the bot lands where `accept` allows and uses no other value than
`expect` allows (a card must also have every expected date). It is a *confident wrong* when
the reply is an answer card and either the node is not accepted or the card was computed
from a value `expect` does not allow: the customer gets a firm, wrong answer instead of a
question.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from core.dialogue import FlowDialogue, default_dialogue
from core.dialogue.model import TOPIC_PREFIX
from core.reply import Reply
from core.session import Session

ASK = "ask:"
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Case:
    text: str
    accept: tuple[str, ...]
    expect: dict[str, frozenset[str]]
    classes: tuple[str, ...]
    topic: str  # the topic it is filed under, for the confusion table

    @property
    def dated(self) -> bool:
        return any(_is_date(v) for values in self.expect.values() for v in values)


@dataclass(frozen=True)
class Outcome:
    case: Case
    taken: str  # node id, or "ask:a+b" for a clarifying question offering topics a, b
    card: bool
    answers: dict[str, str]
    correct: bool
    confident_wrong: bool
    used_expected_date: bool  # a card computed from the expected date (not just asked)


@dataclass
class Score:
    path: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def correct(self) -> int:
        return sum(o.correct for o in self.outcomes)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def confident_wrong(self) -> int:
        return sum(o.confident_wrong for o in self.outcomes)

    @property
    def dated(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.dated]

    @property
    def confident_wrong_dated(self) -> int:
        return sum(o.confident_wrong for o in self.dated)

    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.correct]


def _is_date(value: str) -> bool:
    return bool(ISO.match(value))


def _expand(value: Any) -> frozenset[str]:
    """One expected value, a list of them, or a date range "a..b" → the set allowed."""
    items = value if isinstance(value, list) else [value]
    out: set[str] = set()
    for item in items:
        text = str(item)
        m = RANGE.match(text)
        if m:
            day, last = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
            while day <= last:
                out.add(day.isoformat())
                day += timedelta(days=1)
        else:
            out.add(text)
    return frozenset(out)


def load_cases(
    path: Path | str, dialogue: FlowDialogue | None = None
) -> tuple[datetime, list[Case]]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    now = datetime.fromisoformat(str(raw["now"]))
    if now.tzinfo is None:
        raise ValueError(f"{path}: `now` needs a UTC offset (+09:00)")
    flow = (dialogue or default_dialogue()).flow
    node_topic = {t.node: t.id for t in flow.topics.values()}
    cases: list[Case] = []
    for item in raw["cases"]:
        accept = tuple(str(a) for a in item["accept"])
        first = accept[0]
        topic = (
            "off_topic"
            if first == flow.start
            else first[len(ASK) :].split("+")[0]
            if first.startswith(ASK)
            else node_topic.get(first, first)
        )
        cls = item.get("class", "plain")
        cases.append(
            Case(
                text=str(item["text"]),
                accept=accept,
                expect={k: _expand(v) for k, v in (item.get("expect") or {}).items()},
                classes=tuple(cls) if isinstance(cls, list) else (str(cls),),
                topic=str(item.get("topic", topic)),
            )
        )
    return now, cases


def problems(cases: list[Case], dialogue: FlowDialogue | None = None) -> list[str]:
    """Data mistakes in a set: unknown nodes, topics or slots, duplicate texts."""
    flow = (dialogue or default_dialogue()).flow
    slots = {n.slot for n in flow.nodes.values() if n.slot} | {
        slot for n in flow.nodes.values() for c in n.choices for slot, _ in c.sets
    }
    out: list[str] = []
    for text, n in Counter(c.text for c in cases).items():
        if n > 1:
            out.append(f"duplicate text: {text}")
    for c in cases:
        for a in c.accept:
            if a.startswith(ASK):
                out += [
                    f"{c.text}: unknown topic {t}" for t in _ask_topics(a) if t not in flow.topics
                ]
            elif a not in flow.nodes:
                out.append(f"{c.text}: unknown node {a}")
        out += [f"{c.text}: unknown slot {s}" for s in c.expect if s not in slots]
    return out


def _ask_topics(entry: str) -> list[str]:
    return entry[len(ASK) :].split("+")


def taken_of(reply: Reply) -> str:
    """Where the reply stands: its node, or the clarifying question and its topic buttons."""
    offered = [
        c.value[len(TOPIC_PREFIX) :] for c in reply.choices if c.value.startswith(TOPIC_PREFIX)
    ]
    return ASK + "+".join(offered) if offered else reply.node


def _accepted(taken: str, accept: tuple[str, ...]) -> bool:
    if taken.startswith(ASK):
        offered = set(_ask_topics(taken))
        return any(a.startswith(ASK) and set(_ask_topics(a)) <= offered for a in accept)
    return taken in accept


def judge(case: Case, session: Session | None, reply: Reply) -> Outcome:
    taken = taken_of(reply)
    answers = dict(session.answers) if session is not None else {}
    card = reply.card is not None
    other_value = any(s in answers and answers[s] not in ok for s, ok in case.expect.items())
    date_slots = [s for s, ok in case.expect.items() if any(_is_date(v) for v in ok)]
    # A card that answers a dated question must have been computed from that date.
    missing_date = card and any(s not in answers for s in date_slots)
    accepted = _accepted(taken, case.accept)
    return Outcome(
        case=case,
        taken=taken,
        card=card,
        answers=answers,
        correct=accepted and not other_value and not missing_date,
        confident_wrong=card and (not accepted or other_value),
        used_expected_date=card
        and bool(date_slots)
        and all(answers.get(s) in case.expect[s] for s in date_slots),
    )


def run_case(case: Case, now: datetime, dialogue: FlowDialogue | None = None) -> Outcome:
    from core.nlu import understand  # as core/turn.py does: NLU data loads on first use

    d = dialogue or default_dialogue()
    intent = understand(case.text, d.expectation(None), now.date())
    session, reply = d.step(None, intent, now)
    return judge(case, session, reply)


def score_file(path: Path | str, dialogue: FlowDialogue | None = None) -> Score:
    now, cases = load_cases(path, dialogue)
    bad = problems(cases, dialogue)
    if bad:
        raise ValueError(f"{path}: " + "; ".join(bad))
    score = Score(str(path))
    score.outcomes = [run_case(c, now, dialogue) for c in cases]
    return score


def report(score: Score) -> str:
    lines = [
        f"== {score.path}",
        f"accuracy {score.correct}/{score.total} = {score.accuracy:.1%}",
        f"confident wrong: {score.confident_wrong} overall, "
        f"{score.confident_wrong_dated} of {len(score.dated)} dated",
        f"dated cases answered with the expected date: "
        f"{sum(o.used_expected_date for o in score.dated)}/{len(score.dated)}",
        "",
        "confusion (expected topic → taken: count; * = accepted):",
    ]
    table: dict[str, Counter[tuple[str, bool]]] = defaultdict(Counter)
    for o in score.outcomes:
        table[o.case.topic][(o.taken, o.correct)] += 1
    for topic in sorted(table, key=lambda t: -sum(table[t].values())):
        cells = ", ".join(
            f"{taken}{'*' if ok else ''} {n}" for (taken, ok), n in table[topic].most_common()
        )
        lines.append(f"  {topic:<14} → {cells}")
    lines += ["", "per class (correct/total):"]
    per: dict[str, list[bool]] = defaultdict(list)
    for o in score.outcomes:
        for c in o.case.classes:
            per[c].append(o.correct)
    for cls in sorted(per, key=lambda c: sum(per[c]) / len(per[c])):
        got = per[cls]
        lines.append(f"  {cls:<12} {sum(got):>3}/{len(got):<3} {sum(got) / len(got):.0%}")
    lines += ["", "misses (CW = confident wrong):"]
    for o in score.misses():
        mark = "CW" if o.confident_wrong else "  "
        lines.append(f"  {mark} [{o.case.topic}] {o.case.text} → {o.taken} {o.answers or ''}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    for path in argv or ["tests/data/nlu_first_messages.yaml"]:
        print(report(score_file(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
