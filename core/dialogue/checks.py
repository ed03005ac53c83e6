"""`iijmio-bot lint`: the flow, the rule data and the NLU's topics checked together.

The validator checks a flow on its own; here the flow is also held against what lies
outside it: the rules it cites and the topics understanding can produce.
"""

from __future__ import annotations

from pathlib import Path

from core.dialogue.loader import FlowError, read_raw
from core.dialogue.texts_lint import lint_texts
from core.dialogue.validator import validate_flow
from core.nlu import topic_ids, topic_label
from core.policy import RulesError, load_rules
from core.policy.rules import validate_rules


def lint(flow_path: Path | None = None, rules_path: Path | None = None) -> list[str]:
    """Problems of the flow and rule data (the shipped files unless paths are given);
    empty means sound. Rule problems are reported one by one, prefixed."""
    problems = [f"texts: {p}" for p in lint_texts()]
    rule_ids: list[str] | None = None
    try:
        book = load_rules(rules_path, strict=False) if rules_path else load_rules()
        problems += [f"rules: {p}" for p in validate_rules(book)]
        rule_ids = list(book.rule_ids())
    except RulesError as exc:  # broken rule data is reported with the flow's problems
        problems.append(f"rules: {exc}")
    try:
        raw, _ = read_raw(flow_path)
    except FlowError as exc:
        return [*problems, *(f"flow: {p}" for p in exc.problems)]
    # The flow's topic labels are what customers see; the lexicon's copies must agree.
    nlu_topics = {tid: topic_label(tid) for tid in topic_ids()}
    problems += [
        f"flow: {p}"
        for p in validate_flow(
            raw, topic_ids=nlu_topics, topic_labels=nlu_topics, rule_ids=rule_ids
        )
    ]
    return problems
