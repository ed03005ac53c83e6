"""Answers the customer already gave in a message: questions they fill are skipped.

A message that names a topic often answers the questions the topic leads to as well
(「ギガプランだけど違約金かかる？」, 「6月20日から使ってるけどいつ解約できる？」). The NLU
says what the message states (`Intent.facts`); flow.yaml's `slots:` say which fact answers
which slot. Here the two meet, purely:

- `told` picks the slot values a message gives for the questions ahead of it (those
  reachable from where the conversation goes, up to the next answer card). A date fills a
  date slot only when its role matches (利用開始日 from 使い始めた); a date with no role
  word fills nothing here, only the date question it is typed at. A message that chose
  the topic overrides earlier answers; a later one fills only what is still open.
- Values taken from a message are remembered in the session under one compact key
  (`MARK`: the slot names, comma-separated), so a card can say 「（メッセージから）」 and
  the customer can tell what the bot assumed. A value answered by a button or a reply to
  its own question clears the mark.
- A vague date (「2週間くらい前」) never fills a slot: the date question is asked with the
  candidate dates as buttons (`offer`), value `date:YYYY-MM-DD`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from core.dialogue.model import Flow, Node, NodeKind, Row, resolve_bound
from core.dialogue.slots import DATE_FACT, DATE_PREFIX, SlotSpec
from core.dialogue.validator import edges
from core.intent import DateFact, DateRole, Facts, Intent, IntentKind
from core.limits import MAX_TEXTS
from core.policy import format_date_ja
from core.reply import Choice, FactRow, Reply
from core.session import Session
from core.texts import say

MARK = "~msg"  # answers key: the slots whose value came from a message, comma-separated
# The kinds of message whose facts may fill slots. Commands, greetings and off-topic
# chatter state nothing the conversation should keep.
_FILLING = frozenset(
    {
        IntentKind.TOPIC,
        IntentKind.AMBIGUOUS,
        IntentKind.CHOICE,
        IntentKind.DATE,
        IntentKind.BAD_DATE,
        IntentKind.VAGUE_DATE,
        IntentKind.UNKNOWN,
        IntentKind.THANKS,
    }
)
_CHOOSING = frozenset({IntentKind.TOPIC, IntentKind.AMBIGUOUS})


@dataclass(frozen=True)
class Said:
    """What this turn's message stated, and how much weight its facts carry."""

    facts: Facts = field(default_factory=Facts)
    overrides: bool = False  # it chose the topic: its facts replace earlier answers
    direct: str | None = None  # the slot of the question it replies to (no mark: asked)


@dataclass(frozen=True)
class Told:
    """The slot values a message gives for the questions ahead."""

    values: Mapping[str, str] = field(default_factory=dict)
    marked: frozenset[str] = frozenset()  # of those, the ones not asked for

    def apply(self, s: Session, sets: Mapping[str, str]) -> Session:
        """``s`` with these values and ``sets`` (a button's, which win) and the marks."""
        merged = {**self.values, **sets}
        if not merged:
            return s
        answers = dict(s.answers)
        mark = (marked(answers) - merged.keys()) | (self.marked - sets.keys())
        answers.update(merged)
        answers.pop(MARK, None)
        if mark:
            answers[MARK] = ",".join(sorted(mark))
        return replace(s, answers=tuple(sorted(answers.items())))

    def fresh(self, s: Session, sets: Mapping[str, str]) -> frozenset[str]:
        """Slots a skipped question may use without the 'reused earlier answers' notice:
        the ones just given, by button or by message, and those a message gave before."""
        return frozenset(sets) | frozenset(self.values) | marked(dict(s.answers))


NOTHING = Told()


def said(flow: Flow, s: Session, intent: Intent) -> Said:
    if intent.kind not in _FILLING or not intent.facts.any():
        return Said()
    if intent.kind in _CHOOSING:
        return Said(intent.facts, overrides=True)
    node = flow.nodes.get(s.node)
    return Said(intent.facts, direct=node.slot if node is not None else None)


def marked(answers: Mapping[str, str]) -> frozenset[str]:
    return frozenset(x for x in answers.get(MARK, "").split(",") if x)


def legacy_date(intent: Intent) -> date | None:
    """The date said along with a topic, before the NLU gave dates their role: used only
    when the message's facts carry no dates (the NLU of an older build)."""
    return intent.date if not intent.facts.dates else None


# ---- which slot a message fills ---------------------------------------------------------


def slots_ahead(flow: Flow, targets: Iterable[str]) -> dict[str, list[Node]]:
    """The slots asked or shown on the way from ``targets`` to the next answer cards, with
    the nodes that ask or show each."""
    found: dict[str, list[Node]] = {}
    seen: set[str] = set()
    queue = deque(t for t in targets if t in flow.nodes)
    while queue:
        nid = queue.popleft()
        if nid in seen:
            continue
        seen.add(nid)
        node = flow.nodes[nid]
        if node.kind is NodeKind.ANSWER:
            for row in node.rows:
                if row.slot:
                    found.setdefault(row.slot, []).append(node)
            continue  # a card's follow-ups start new questions
        if node.slot and node.kind in (NodeKind.QUESTION, NodeKind.DATE):
            found.setdefault(node.slot, []).append(node)
        queue.extend(t for t in edges(node) if t in flow.nodes)
    return found


def _date_value(
    spec: SlotSpec, dates: Sequence[DateFact], nodes: Sequence[Node], today: date
) -> str | None:
    exact = {d.date for d in dates if d.role == spec.role and d.date is not None}
    if len(exact) != 1:
        return None  # none, or two dates in one role: ask rather than pick one
    value = exact.pop()
    for node in nodes:
        if node.kind is NodeKind.DATE:
            lo, hi = resolve_bound(node.min, today), resolve_bound(node.max, today)
            if not lo <= value <= hi:
                return None  # the question will ask, and say which dates it takes
    return value.isoformat()


def fact_value(spec: SlotSpec, facts: Facts) -> str | None:
    raw = getattr(facts, spec.fact, None)
    if raw is None:
        return None
    key = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
    return spec.slot_value(key)


def told(flow: Flow, s: Session, targets: Iterable[str], said: Said, today: date) -> Told:
    """The slot values ``said`` gives for the questions ahead of ``targets``."""
    if not said.facts.any() or not flow.slots:
        return NOTHING
    answers = dict(s.answers)
    values: dict[str, str] = {}
    for name, nodes in slots_ahead(flow, targets).items():
        spec = flow.slots.get(name)
        if spec is None or (spec.asked_only and name != said.direct):
            continue
        if not said.overrides and name in answers and name != said.direct:
            continue  # a later message fills what is open; it does not rewrite answers
        if spec.fact == DATE_FACT:
            value = _date_value(spec, said.facts.dates, nodes, today)
        else:
            value = fact_value(spec, said.facts)
        if value is not None:
            values[name] = value
    return Told(values, frozenset(values) - {said.direct}) if values else NOTHING


# ---- saying what was used ---------------------------------------------------------------


def display(flow: Flow, slot: str, value: str) -> str:
    """A slot value as the customer reads it: a date in Japanese, a yen amount, the label
    of the choice that means it."""
    spec = flow.slots.get(slot)
    if spec is not None:
        shown = dict(spec.display).get(value)
        if shown:
            return shown
        if spec.fact == DATE_FACT:
            try:
                return format_date_ja(date.fromisoformat(value))
            except ValueError:
                return value
        if spec.fact == "amount_yen" and value.isdigit():
            return say("yen", amount=f"{int(value):,}")
    for node in flow.nodes.values():
        if node.slot == slot:
            for c in node.choices:
                if dict(c.sets).get(slot) == value:
                    return c.label
    return value


def card_rows(
    flow: Flow,
    rows: Sequence[Row],
    render: Callable[[str], str],
    answers: Mapping[str, str],
    from_message: str,
) -> tuple[FactRow, ...]:
    """A card's rows (``render`` fills a template). A row that names a slot shows its
    answer when it has no template, and says when the answer came from the message."""
    out = []
    came = marked(answers)
    for r in rows:
        value = render(r.value)
        if not r.value and r.slot and r.slot in answers:
            value = display(flow, r.slot, answers[r.slot])
        if not value:
            continue
        if r.slot in came:
            value += from_message
        out.append(FactRow(render(r.label), value))
    return tuple(out)


def understood(flow: Flow, s: Session, told: Told) -> str:
    """What the message filled, one「・label: value」line each, leaving out what the card
    shown names itself; empty when there is nothing to say."""
    node = flow.nodes[s.node]
    shown = {r.slot for r in node.rows} if node.kind is NodeKind.ANSWER else set()
    return "\n".join(
        f"・{flow.slots[slot].label}: {display(flow, slot, told.values[slot])}"
        for slot in sorted(told.marked - shown, key=list(flow.slots).index)
        if slot in flow.slots
    )


def role_clash(flow: Flow, node: Node, intent: Intent) -> tuple[str, str] | None:
    """A date typed at a date question but said as another kind of date (「11月20日に
    契約しました」 at the receipt question): what was said and the kind of date it is, so
    the question is asked again instead of computing from the wrong day."""
    spec = flow.slots.get(node.slot or "")
    if spec is None or spec.role is None or intent.date is None:
        return None
    said = [d for d in intent.facts.dates if d.date == intent.date]
    if not said or any(d.role in (DateRole.NONE, spec.role) for d in said):
        return None
    other = said[0]
    kind = next((x.label for x in flow.slots.values() if x.role == other.role), "")
    return (other.said or format_date_ja(intent.date), kind) if kind else None


# ---- vague dates ------------------------------------------------------------------------


def vague_for(flow: Flow, node: Node, facts: Facts) -> tuple[DateFact | None, tuple[date, ...]]:
    """The rough date of the message meant for this date question, with its candidates."""
    spec = flow.slots.get(node.slot or "")
    if node.kind is not NodeKind.DATE or spec is None or spec.role is None:
        return None, ()
    rough = [d for d in facts.dates if d.role == spec.role and d.candidates and d.date is None]
    return (rough[0], rough[0].candidates) if len(rough) == 1 else (None, ())


def offer(reply: Reply, node: Node, candidates: Sequence[date], note: str, today: date) -> Reply:
    """The date question with the candidate dates as buttons (the picker stays)."""
    lo, hi = resolve_bound(node.min, today), resolve_bound(node.max, today)
    picks = tuple(
        Choice(format_date_ja(d), DATE_PREFIX + d.isoformat())
        for d in dict.fromkeys(candidates)
        if lo <= d <= hi
    )
    if not picks:
        return reply
    texts = [*reply.texts, note]
    while len(texts) > MAX_TEXTS:
        texts[0:2] = [texts[0] + "\n" + texts[1]]
    return replace(reply, texts=tuple(texts), choices=(*picks, *reply.choices))


def choice_date(value: str) -> date | None:
    if not value.startswith(DATE_PREFIX):
        return None
    try:
        return date.fromisoformat(value[len(DATE_PREFIX) :])
    except ValueError:
        return None
