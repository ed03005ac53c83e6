"""Checks that make a flow safe to run: every problem is reported, not just the first."""

from __future__ import annotations

import string
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from core.dialogue.compute import REGISTRY, Computation
from core.dialogue.model import (
    Flow,
    Node,
    NodeKind,
    parse_flow,
    resolve_bound,
)
from core.dialogue.slots import DATE_FACT, DATE_PREFIX
from core.limits import (
    LINE_LABEL,
    MAX_CARD_NOTES,
    MAX_CARD_ROWS,
    MAX_CARD_STEPS,
    MAX_CHOICES,
    MAX_TITLE,
    MAX_VALUE,
    SLACK_LABEL,
)
from core.reply import FEEDBACK_PREFIX, NAV_MENU, TOPIC_PREFIX

SET_TOKENS = ("$today", "$month_end")


def validate_flow(
    raw: Any,
    *,
    topic_ids: Iterable[str] = (),
    topic_labels: Mapping[str, str] | None = None,
    computations: Mapping[str, Computation] | None = None,
    rule_ids: Iterable[str] | None = None,
) -> list[str]:
    """Every problem of a raw (YAML-loaded) flow, as readable lines; empty when it is sound.

    topic_ids (understanding's topics) each need an entry node; topic_labels, when given,
    are other copies of the topics' labels that must equal the flow's (which customers
    see); rule_ids, when given, must cover every rule an answer declares.
    """
    flow, errors = parse_flow(raw)
    if flow is None:
        return errors
    comps = REGISTRY if computations is None else computations
    wanted_topics = set(topic_ids)
    known_rules = None if rule_ids is None else set(rule_ids)
    errors += _check_targets(flow)
    errors += _check_reachable(flow)
    if not errors:  # the path checks assume every route resolves
        errors += _check_auto_loops(flow)
        errors += _check_inputs(flow, comps)
    for node in flow.nodes.values():
        errors += _check_node(flow, node, comps, known_rules)
    errors += _check_slots(flow)
    for tid in sorted(wanted_topics - flow.topics.keys()):
        errors += [f"topic {tid}: no entry node in the flow"]
    for t in flow.topics.values():
        if len(t.label) > LINE_LABEL:
            errors.append(f"topic {t.id}: label {t.label!r} longer than {LINE_LABEL}")
        other = (topic_labels or {}).get(t.id)
        if other is not None and other != t.label:
            errors.append(f"topic {t.id}: label {t.label!r} but the lexicon says {other!r}")
    return errors


def edges(node: Node) -> list[str]:
    out = [c.next for c in node.choices]
    if node.next:
        out.append(node.next)
    out += [target for _, target in node.cases]
    return out


def _check_targets(flow: Flow) -> list[str]:
    errors = []
    for node in flow.nodes.values():
        for target in edges(node):
            if target not in flow.nodes:
                errors.append(f"node {node.id}: route to missing node {target!r}")
    for t in flow.topics.values():
        if t.node not in flow.nodes:
            errors.append(f"topic {t.id}: entry node {t.node!r} does not exist")
    return errors


def _check_reachable(flow: Flow) -> list[str]:
    roots = [flow.start, *(t.node for t in flow.topics.values())]
    if flow.unresolved:
        roots.append(flow.unresolved)  # 「解決しない」 under any card leads there
    seen: set[str] = set()
    queue = deque(r for r in roots if r in flow.nodes)
    while queue:
        nid = queue.popleft()
        if nid in seen:
            continue
        seen.add(nid)
        queue.extend(t for t in edges(flow.nodes[nid]) if t in flow.nodes)
    return [f"node {nid}: unreachable from the menu" for nid in flow.nodes if nid not in seen]


def _auto_edges(node: Node) -> list[str]:
    """Where the engine may move on its own, without the user acting."""
    if node.kind is NodeKind.SWITCH:
        return edges(node)
    if node.kind is NodeKind.DATE and node.slot and node.next:
        return [node.next]
    if node.kind is NodeKind.QUESTION and node.slot:
        return [c.next for c in node.choices] + ([node.next] if node.next else [])
    return []


def _check_auto_loops(flow: Flow) -> list[str]:
    # A loop of nodes the engine skips through would never stop at a question.
    errors: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(nid: str, path: list[str]) -> None:
        state[nid] = 1
        for nxt in _auto_edges(flow.nodes[nid]):
            if state.get(nxt) == 1:
                loop = [*path[path.index(nxt) :], nxt] if nxt in path else [nid, nxt]
                errors.append(f"automatic loop through {' → '.join(loop)}")
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[nid] = 2

    for nid in flow.nodes:
        if nid not in state:
            visit(nid, [nid])
    return errors


def _check_inputs(flow: Flow, comps: Mapping[str, Computation]) -> list[str]:
    """Every path to an answer must have asked what its computation needs.

    A must-analysis: the slots surely answered on arrival at a node are those answered
    on every way in (menus and topic jumps start from nothing known).
    """
    every = frozenset(
        {n.slot for n in flow.nodes.values() if n.slot}
        | {slot for n in flow.nodes.values() for c in n.choices for slot, _ in c.sets}
    )
    known: dict[str, frozenset[str]] = {nid: every for nid in flow.nodes}
    roots = {flow.start, *(t.node for t in flow.topics.values())}
    for r in roots:
        known[r] = frozenset()
    changed = True
    while changed:
        changed = False
        for node in flow.nodes.values():
            here = known[node.id]
            outs = [(c.next, here | {slot for slot, _ in c.sets}) for c in node.choices]
            if node.next:
                asks = node.kind in (NodeKind.DATE, NodeKind.QUESTION)
                given = {node.slot} if asks and node.slot else set()
                outs.append((node.next, here | given))
            outs += [(target, here) for _, target in node.cases]
            for target, carried in outs:
                new = known[target] & carried
                if new != known[target]:
                    known[target], changed = new, True
    errors = []
    for node in flow.nodes.values():
        comp = comps.get(node.compute) if node.compute else None
        if comp is not None:
            missing = sorted(set(comp.needs) - known[node.id])
            if missing:
                errors.append(f"node {node.id}: reachable without asking {', '.join(missing)}")
    return errors


def _check_node(
    flow: Flow, node: Node, comps: Mapping[str, Computation], known_rules: set[str] | None
) -> list[str]:
    where = f"node {node.id}"
    errors = _check_choices(where, node, _engine_choices(flow, node))
    if node.kind is NodeKind.QUESTION:
        if not node.text or not node.choices:
            errors.append(f"{where}: a question needs text and choices")
        if node.slot:
            for c in node.choices:
                if node.slot not in dict(c.sets):
                    errors.append(f"{where}: choice {c.value!r} does not set slot {node.slot!r}")
        elif node.next:
            errors.append(f"{where}: a question's 'next' needs a 'slot' (it takes typed values)")
    elif node.kind is NodeKind.DATE:
        if not node.text or not node.slot or not node.next:
            errors.append(f"{where}: a date question needs text, slot and next")
        for bound in (node.min, node.max):
            if not _bound_ok(bound):
                errors.append(f"{where}: bad date bound {bound!r}")
    elif node.kind is NodeKind.SWITCH:
        if not node.next:
            errors.append(f"{where}: a switch needs a default 'next'")
        if bool(node.slot) == bool(node.compute_key):
            errors.append(f"{where}: a switch routes on exactly one of 'slot' or 'on_computed'")
    elif node.kind is NodeKind.ANSWER:
        errors += _check_answer(flow, node, comps, known_rules)
    elif node.kind is NodeKind.HANDOFF and (node.text or node.choices or node.next):
        errors.append(f"{where}: a handoff has no text, choices or next (the runner speaks)")
    if node.id == flow.unresolved and node.kind is not NodeKind.QUESTION:
        errors.append(f"{where}: the unresolved node must be a question")
    if node.compute is not None:
        comp = comps.get(node.compute)
        if comp is None:
            errors.append(f"{where}: unknown compute {node.compute!r}")
        elif node.compute_key and node.compute_key not in comp.outputs:
            errors.append(f"{where}: compute {comp.name} does not produce {node.compute_key!r}")
    elif node.compute_key:
        errors.append(f"{where}: 'on_computed' needs a 'compute'")
    return errors


def _engine_choices(flow: Flow, node: Node) -> int:
    """How many choices the engine may add to a node's own: a menu button when a customer
    is stuck, and 「解決した」「解決しない」 under an answer card."""
    feedback = 2 if node.kind is NodeKind.ANSWER and flow.unresolved else 0
    return 1 + feedback


def _check_choices(where: str, node: Node, added: int = 1) -> list[str]:
    errors = []
    values = [c.value for c in node.choices]
    for dup in sorted({v for v in values if values.count(v) > 1}):
        errors.append(f"{where}: choice value {dup!r} used twice")
    # The engine would show only the first of two such buttons; say so at lint time.
    labels = [c.label for c in node.choices]
    for dup in sorted({label for label in labels if labels.count(label) > 1}):
        errors.append(f"{where}: choice label {dup!r} used twice")
    places = [(c.next, c.sets) for c in node.choices]
    for target, _sets in sorted({p for p in places if places.count(p) > 1}):
        errors.append(f"{where}: two choices lead to {target!r} with the same answers")
    # `added`: the choices the engine puts beside the node's own (_engine_choices)
    if len(node.choices) + added > MAX_CHOICES:
        errors.append(f"{where}: {len(node.choices)} choices, at most {MAX_CHOICES - added}")
    for c in node.choices:
        if not c.label.strip() or len(c.label) > LINE_LABEL:
            errors.append(f"{where}: label {c.label!r} is empty or over {LINE_LABEL} (LINE)")
        if len(c.label) > SLACK_LABEL:
            errors.append(f"{where}: label {c.label!r} over {SLACK_LABEL} (Slack)")
        if not c.value or len(c.value) > MAX_VALUE:
            errors.append(f"{where}: choice value {c.value!r} empty or over {MAX_VALUE}")
        reserved = (TOPIC_PREFIX, "nav:", DATE_PREFIX, FEEDBACK_PREFIX)
        if c.value.startswith(reserved) and c.value != NAV_MENU:
            errors.append(f"{where}: choice value {c.value!r} uses a reserved prefix")
        for slot, v in c.sets:
            if v.startswith("$") and v not in SET_TOKENS:
                errors.append(f"{where}: choice {c.value!r} sets {slot} to unknown token {v}")
    return errors


def _check_answer(
    flow: Flow, node: Node, comps: Mapping[str, Computation], known_rules: set[str] | None
) -> list[str]:
    where = f"node {node.id}"
    errors = []
    if not node.title:
        errors.append(f"{where}: an answer needs a title")
    if len(node.title) > MAX_TITLE:
        errors.append(f"{where}: title longer than {MAX_TITLE}")
    if (
        len(node.rows) > MAX_CARD_ROWS
        or len(node.steps) > MAX_CARD_STEPS
        or len(node.notes) > MAX_CARD_NOTES
    ):
        errors.append(
            f"{where}: card over {MAX_CARD_ROWS} rows, {MAX_CARD_STEPS} steps"
            f" or {MAX_CARD_NOTES} notes"
        )
    if not node.choices:
        errors.append(f"{where}: dead end (an answer needs follow-up choices)")
    elif not any(c.next == flow.start for c in node.choices):
        errors.append(f"{where}: no follow-up back to the menu")
    comp = comps.get(node.compute) if node.compute else None
    produced = comp.outputs if comp is not None else frozenset()
    for tpl in node.templates():
        for var in _variables(tpl, where, errors):
            if var not in produced:
                errors.append(f"{where}: template variable {{{var}}} is not computed")
    if comp is not None:
        for rule in comp.rules:
            if rule not in node.rules:
                errors.append(
                    f"{where}: uses rule {rule} (via {comp.name}) but does not declare it"
                )
    if node.rules and node.link is None:
        errors.append(f"{where}: a rule-based answer needs a link to the official page")
    if not node.rules and not node.source:
        errors.append(f"{where}: an answer needs 'rules' or a 'source'")
    if node.link is not None:
        if len(node.link.label) > LINE_LABEL:
            errors.append(f"{where}: link label longer than {LINE_LABEL}")
        if not node.link.url.startswith("https://"):
            errors.append(f"{where}: link must be https")
    if known_rules is not None:
        for rule in node.rules:
            if rule not in known_rules:
                errors.append(f"{where}: declares unknown rule {rule}")
    return errors


def _variables(template: str, where: str, errors: list[str]) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template) if name]
    except ValueError as exc:
        errors.append(f"{where}: bad template {template!r}: {exc}")
        return []


def _bound_ok(bound: str) -> bool:
    try:
        resolve_bound(bound, date(2026, 1, 1))
    except ValueError:
        return False
    return True


def _check_slots(flow: Flow) -> list[str]:
    """The `slots:` section against the nodes: a fact fills only a slot a question asks
    (a date by a date question), into a value that question can take; a card row names
    only a declared slot."""
    errors: list[str] = []
    askers: dict[str, list[Node]] = {}
    for node in flow.nodes.values():
        if node.slot and node.kind in (NodeKind.QUESTION, NodeKind.DATE):
            askers.setdefault(node.slot, []).append(node)
        for r in node.rows:
            if r.slot and r.slot not in flow.slots and r.slot not in askers:
                errors.append(f"node {node.id}: row {r.label!r} shows unknown slot {r.slot!r}")
    shown = {r.slot for n in flow.nodes.values() for r in n.rows if r.slot}
    for spec in flow.slots.values():
        where = f"slot {spec.name}"
        nodes = askers.get(spec.name, [])
        if not nodes and spec.name not in shown:
            errors.append(f"{where}: no question asks it and no card shows it")
        for node in nodes:
            if (node.kind is NodeKind.DATE) != (spec.fact == DATE_FACT):
                errors.append(f"{where}: node {node.id} asks it, but the fact is {spec.fact}")
            if node.kind is NodeKind.QUESTION and not node.next:
                takes = {dict(c.sets).get(spec.name) for c in node.choices}
                for fact_value, value in spec.values:
                    if value not in takes:
                        errors.append(
                            f"{where}: {fact_value} → {value!r} is no choice of node {node.id}"
                        )
    return errors
