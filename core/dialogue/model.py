"""The conversation as typed values, parsed leniently from flow.yaml.

Parsing collects every problem instead of stopping at the first, so `lint` can
show the whole list at once; the validator adds the graph-level checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from core.dialogue.slots import SlotSpec, parse_slots
from core.policy.calendar import month_end


class NodeKind(StrEnum):
    QUESTION = "question"
    DATE = "date"
    SWITCH = "switch"
    ANSWER = "answer"
    # Hands the conversation to a person (issue 9): arriving here, the customer stays at
    # the node they came from and the turn runner arranges the handoff.
    HANDOFF = "handoff"


@dataclass(frozen=True)
class ChoiceDef:
    label: str
    value: str
    next: str
    synonyms: tuple[str, ...] = ()
    sets: tuple[tuple[str, str], ...] = ()  # slot -> value ("$today", "$month_end" allowed)


@dataclass(frozen=True)
class Row:
    label: str
    value: str  # template; a row whose value renders empty is left out
    # The slot the row shows: its answer when `value` is empty, and the note that it came
    # from the customer's message when it did (see dialogue.prefill).
    slot: str | None = None


@dataclass(frozen=True)
class LinkDef:
    label: str
    url: str


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    text: str = ""  # question text / date prompt / answer intro (may be empty for answers)
    choices: tuple[ChoiceDef, ...] = ()
    slot: str | None = None  # question/date: the answer it fills; switch: what it routes on
    # question with a slot: `next` is where a value no choice offers goes (a typed amount)
    # date
    min: str = "2010-01-01"  # "today", "today+N", "today-N" or an ISO date
    max: str = "today"
    next: str | None = None  # date: where to go once answered; switch: the default route
    # switch
    compute_key: str | None = None  # switch on a computed value instead of a slot
    cases: tuple[tuple[str, str], ...] = ()
    # answer
    title: str = ""
    rows: tuple[Row, ...] = ()
    steps: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    compute: str | None = None
    rules: tuple[str, ...] = ()
    link: LinkDef | None = None
    source: str = ""  # for answers that cite no rule (facts only)

    def choice(self, value: str) -> ChoiceDef | None:
        for c in self.choices:
            if c.value == value:
                return c
        return None

    def templates(self) -> tuple[str, ...]:
        return (
            self.title,
            *(r.label for r in self.rows),
            *(r.value for r in self.rows),
            *self.steps,
            *self.notes,
        )


@dataclass(frozen=True)
class Topic:
    id: str
    node: str
    label: str  # the button offered when a message could mean several topics


@dataclass(frozen=True)
class Flow:
    version: str
    start: str
    nodes: Mapping[str, Node]
    topics: Mapping[str, Topic] = field(default_factory=dict)
    slots: Mapping[str, SlotSpec] = field(default_factory=dict)  # which fact fills which slot
    # Where 「解決しない」 under an answer card leads; None: cards carry no feedback buttons.
    unresolved: str | None = None

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    @property
    def start_node(self) -> Node:
        return self.nodes[self.start]


ROW_KEYS = frozenset({"label", "value", "slot"})
CHOICE_KEYS = frozenset({"label", "value", "next", "synonyms", "set"})
NODE_KEYS = frozenset(
    {
        "kind",
        "text",
        "choices",
        "slot",
        "min",
        "max",
        "next",
        "on_computed",
        "cases",
        "title",
        "rows",
        "steps",
        "notes",
        "compute",
        "rules",
        "link",
        "source",
    }
)


def _unknown_keys(d: Mapping[Any, Any], allowed: frozenset[str], where: str) -> list[str]:
    # A stray key is usually a YAML slip, e.g. an unquoted "2,000円" split in a {…} mapping.
    return [f"{where}: unexpected key {k!r}" for k in d if k not in allowed]


def _str(d: Mapping[str, Any], key: str, where: str, errors: list[str], default: str = "") -> str:
    v = d.get(key, default)
    if v is None:
        return default
    if not isinstance(v, str | int):
        errors.append(f"{where}: '{key}' must be text")
        return default
    return str(v)


def _strs(d: Mapping[str, Any], key: str, where: str, errors: list[str]) -> tuple[str, ...]:
    v = d.get(key) or []
    if not isinstance(v, list) or not all(isinstance(x, str | int) for x in v):
        errors.append(f"{where}: '{key}' must be a list of texts")
        return ()
    return tuple(str(x) for x in v)


def _choices(d: Mapping[str, Any], where: str, errors: list[str]) -> tuple[ChoiceDef, ...]:
    raw = d.get("choices") or []
    if not isinstance(raw, list):
        errors.append(f"{where}: 'choices' must be a list")
        return ()
    out = []
    for i, c in enumerate(raw):
        cw = f"{where}.choices[{i}]"
        if not isinstance(c, dict):
            errors.append(f"{cw}: must be a mapping")
            continue
        errors += _unknown_keys(c, CHOICE_KEYS, cw)
        label = _str(c, "label", cw, errors)
        nxt = _str(c, "next", cw, errors)
        if not label or not nxt:
            errors.append(f"{cw}: needs 'label' and 'next'")
            continue
        sets_raw = c.get("set") or {}
        if not isinstance(sets_raw, dict):
            errors.append(f"{cw}: 'set' must be a mapping")
            sets_raw = {}
        out.append(
            ChoiceDef(
                label=label,
                value=_str(c, "value", cw, errors, default=nxt),
                next=nxt,
                synonyms=_strs(c, "synonyms", cw, errors),
                sets=tuple(sorted((str(k), str(v)) for k, v in sets_raw.items())),
            )
        )
    return tuple(out)


def _node(node_id: str, d: Any, errors: list[str]) -> Node | None:
    where = f"node {node_id}"
    if not isinstance(d, dict):
        errors.append(f"{where}: must be a mapping")
        return None
    try:
        kind = NodeKind(d.get("kind", ""))
    except ValueError:
        errors.append(f"{where}: unknown kind {d.get('kind')!r}")
        return None
    rows: list[Row] = []
    errors += _unknown_keys(d, NODE_KEYS, where)
    for i, r in enumerate(d.get("rows") or []):
        if isinstance(r, dict):
            errors += _unknown_keys(r, ROW_KEYS, f"{where}.rows[{i}]")
        if isinstance(r, dict) and r.get("label") and (r.get("value") or r.get("slot")):
            slot = str(r["slot"]) if r.get("slot") else None
            rows.append(Row(label=str(r["label"]), value=str(r.get("value") or ""), slot=slot))
        else:
            errors.append(f"{where}.rows[{i}]: needs 'label' and 'value' (or 'slot')")
    link = None
    if "link" in d:
        ld = d["link"]
        if isinstance(ld, dict) and ld.get("label") and ld.get("url"):
            link = LinkDef(label=str(ld["label"]), url=str(ld["url"]))
        else:
            errors.append(f"{where}: 'link' needs 'label' and 'url'")
    cases_raw = d.get("cases") or {}
    if not isinstance(cases_raw, dict):
        errors.append(f"{where}: 'cases' must be a mapping")
        cases_raw = {}
    return Node(
        id=node_id,
        kind=kind,
        text=_str(d, "text", where, errors),
        choices=_choices(d, where, errors),
        slot=_str(d, "slot", where, errors) or None,
        min=_str(d, "min", where, errors, default="2010-01-01"),
        max=_str(d, "max", where, errors, default="today"),
        next=_str(d, "next", where, errors) or None,
        compute_key=_str(d, "on_computed", where, errors) or None,
        cases=tuple((str(k), str(v)) for k, v in cases_raw.items()),
        title=_str(d, "title", where, errors),
        rows=tuple(rows),
        steps=_strs(d, "steps", where, errors),
        notes=_strs(d, "notes", where, errors),
        compute=_str(d, "compute", where, errors) or None,
        rules=_strs(d, "rules", where, errors),
        link=link,
        source=_str(d, "source", where, errors),
    )


def parse_flow(raw: Any, version: str = "") -> tuple[Flow | None, list[str]]:
    """Build a Flow from the YAML structure; returns every structural problem found."""
    errors: list[str] = []
    if not isinstance(raw, dict):
        return None, ["flow: the file must be a mapping with 'start', 'topics' and 'nodes'"]
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, dict) or not nodes_raw:
        return None, ["flow: 'nodes' must be a non-empty mapping"]
    nodes: dict[str, Node] = {}
    for node_id, d in nodes_raw.items():
        n = _node(str(node_id), d, errors)
        if n is not None:
            nodes[n.id] = n
    topics: dict[str, Topic] = {}
    topics_raw = raw.get("topics") or {}
    if not isinstance(topics_raw, dict):
        errors.append("flow: 'topics' must be a mapping")
        topics_raw = {}
    for tid, td in topics_raw.items():
        if isinstance(td, dict) and td.get("node") and td.get("label"):
            topics[str(tid)] = Topic(id=str(tid), node=str(td["node"]), label=str(td["label"]))
        else:
            errors.append(f"topic {tid}: needs 'node' and 'label'")
    slots, slot_errors = parse_slots(raw.get("slots"))
    errors += slot_errors
    start = raw.get("start")
    if not isinstance(start, str) or start not in nodes:
        errors.append(f"flow: start node {start!r} does not exist")
        return None, errors
    unresolved = raw.get("unresolved")
    if unresolved is not None and (not isinstance(unresolved, str) or unresolved not in nodes):
        errors.append(f"flow: unresolved node {unresolved!r} does not exist")
        unresolved = None
    flow = Flow(
        version=version,
        start=start,
        nodes=nodes,
        topics=topics,
        slots=slots,
        unresolved=unresolved,
    )
    return flow, errors


def resolve_bound(bound: str, today: date) -> date:
    """A date bound of flow.yaml: "today", "today+N" / "today-N" (days) or an ISO date."""
    if bound == "today":
        return today
    if bound.startswith("today"):
        sign, days = bound[5], bound[6:]
        if sign not in "+-" or not days.isdigit():
            raise ValueError(f"bad date bound {bound!r}")
        delta = timedelta(days=int(days))
        return today + delta if sign == "+" else today - delta
    return date.fromisoformat(bound)


def resolve_token(value: str, today: date) -> str:
    """A value a choice sets: "$today" / "$month_end" become ISO dates, others stay."""
    if value == "$today":
        return today.isoformat()
    if value == "$month_end":
        return month_end(today).isoformat()
    return value
