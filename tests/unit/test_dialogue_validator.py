"""The flow checks: the shipped flow is sound, and each kind of mistake is reported."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.dialogue import FlowError, lint, load_flow, to_mermaid, validate_flow
from core.dialogue.loader import FLOW_PATH, read_raw
from core.limits import MAX_CARD_NOTES, MAX_CARD_ROWS, MAX_CARD_STEPS, MAX_CHOICES
from core.nlu import topic_ids
from core.reply import Card, FactRow, Reply, ReplyLimitError


@pytest.fixture
def raw() -> dict[str, Any]:
    data, _ = read_raw()
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def test_shipped_flow_and_rules_have_no_problems() -> None:
    assert lint() == []


def test_every_topic_of_the_lexicon_has_an_entry_node() -> None:
    flow = load_flow()
    for tid in topic_ids():
        assert flow.topics[tid].node in flow.nodes


def test_version_is_a_hash_of_the_file(tmp_path: Path) -> None:
    text = FLOW_PATH.read_text(encoding="utf-8")
    copy_path = tmp_path / "flow.yaml"
    copy_path.write_text(text, encoding="utf-8")
    assert load_flow(copy_path).version == load_flow().version
    copy_path.write_text(text + "\n# edited\n", encoding="utf-8")
    assert load_flow(copy_path).version != load_flow().version
    assert re.fullmatch(r"[0-9a-f]{12}", load_flow().version)


def test_missing_route_target(raw: dict[str, Any]) -> None:
    raw["nodes"]["fees"]["choices"][0]["next"] = "nowhere"
    assert any("missing node 'nowhere'" in p for p in validate_flow(raw))


def test_unreachable_node(raw: dict[str, Any]) -> None:
    raw["nodes"]["orphan"] = copy.deepcopy(raw["nodes"]["support"])
    assert "node orphan: unreachable from the menu" in validate_flow(raw)


def test_answer_without_follow_ups_is_a_dead_end(raw: dict[str, Any]) -> None:
    raw["nodes"]["esim"]["choices"] = []
    assert any("esim: dead end" in p for p in validate_flow(raw))


def test_answer_must_lead_back_to_the_menu(raw: dict[str, Any]) -> None:
    raw["nodes"]["esim"]["choices"] = [{"label": "解約", "next": "cancel"}]
    assert any("esim: no follow-up back to the menu" in p for p in validate_flow(raw))


def test_label_limits_for_line_and_slack(raw: dict[str, Any]) -> None:
    raw["nodes"]["menu"]["choices"][0]["label"] = "あ" * 21
    raw["nodes"]["menu"]["choices"][1]["label"] = "い" * 76
    problems = validate_flow(raw)
    assert any("over 20 (LINE)" in p and "あ" * 21 in p for p in problems)
    assert any("over 75 (Slack)" in p for p in problems)


def test_choice_values_unique_and_short(raw: dict[str, Any]) -> None:
    raw["nodes"]["fees"]["choices"][1]["value"] = "giga"
    raw["nodes"]["fees"]["choices"][2]["value"] = "x" * 201
    problems = validate_flow(raw)
    assert "node fees: choice value 'giga' used twice" in problems
    assert any("empty or over 200" in p for p in problems)


def test_topic_without_entry_node(raw: dict[str, Any]) -> None:
    del raw["topics"]["esim"]
    assert "topic esim: no entry node in the flow" in validate_flow(raw, topic_ids=topic_ids())
    assert "topic mioひかり: no entry node in the flow" in validate_flow(
        raw, topic_ids=["mioひかり"]
    )


def test_two_choices_with_one_label_or_one_destination(raw: dict[str, Any]) -> None:
    choices = raw["nodes"]["menu"]["choices"]
    choices.append({"label": "解約の手順", "value": "cancel2", "next": "mnp"})
    choices.append({"label": "MNPへ", "value": "mnp2", "next": "mnp"})
    problems = validate_flow(raw)
    assert "node menu: choice label '解約の手順' used twice" in problems
    assert "node menu: two choices lead to 'mnp' with the same answers" in problems


def test_a_topic_label_elsewhere_must_equal_the_flows(raw: dict[str, Any]) -> None:
    # The flow's label is what customers see; another copy that drifts is reported.
    problems = validate_flow(raw, topic_labels={"esim": "eSIMをやめる"})
    assert "topic esim: label 'eSIMの解約' but the lexicon says 'eSIMをやめる'" in problems
    assert validate_flow(raw, topic_labels={"esim": "eSIMの解約"}) == []


def test_unknown_compute_and_uncomputed_variable(raw: dict[str, Any]) -> None:
    raw["nodes"]["mnp"]["compute"] = "no_such_thing"
    raw["nodes"]["cancel"]["rows"].append({"label": "x", "value": "{not_made}"})
    problems = validate_flow(raw)
    assert "node mnp: unknown compute 'no_such_thing'" in problems
    assert "node cancel: template variable {not_made} is not computed" in problems


@pytest.mark.parametrize(
    ("part", "limit"),
    [("rows", MAX_CARD_ROWS), ("steps", MAX_CARD_STEPS), ("notes", MAX_CARD_NOTES)],
)
def test_the_flow_and_a_reply_hold_cards_to_the_same_length(
    raw: dict[str, Any], part: str, limit: int
) -> None:
    """One number per fact: a card the flow validator lets through is one a Reply may hold,
    and one item more is refused by both."""
    item: Any = {"label": "x", "value": "y"} if part == "rows" else "y"
    value: Any = FactRow("x", "y") if part == "rows" else "y"
    problem = (
        f"node cancel: card over {MAX_CARD_ROWS} rows, {MAX_CARD_STEPS} steps"
        f" or {MAX_CARD_NOTES} notes"
    )
    raw["nodes"]["cancel"]["rows"] = []
    raw["nodes"]["cancel"][part] = [item] * limit
    assert problem not in validate_flow(raw)
    Reply(node="cancel", card=Card(title="t", **{part: (value,) * limit})).validate()
    raw["nodes"]["cancel"][part] = [item] * (limit + 1)
    assert problem in validate_flow(raw)
    with pytest.raises(ReplyLimitError):
        Reply(node="cancel", card=Card(title="t", **{part: (value,) * (limit + 1)})).validate()


def test_rule_based_answer_declares_its_rules(raw: dict[str, Any]) -> None:
    raw["nodes"]["initial_answer"]["rules"] = []
    raw["nodes"]["support"]["rules"] = ["R9"]
    problems = validate_flow(raw, rule_ids=["R1", "R2", "R3", "R4", "R5", "R6", "R7"])
    assert any("initial_answer: uses rule R4" in p for p in problems)
    assert "node support: declares unknown rule R9" in problems


def test_a_yaml_slip_that_splits_a_label_is_caught() -> None:
    text = FLOW_PATH.read_text(encoding="utf-8").replace('{label: "1,500円",', "{label: 1,500円,")
    problems = validate_flow(yaml.safe_load(text))
    assert any("unexpected key" in p for p in problems)


def test_load_reports_every_problem_at_once(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["nodes"]["fees"]["choices"][0]["next"] = "nowhere"
    raw["nodes"]["esim"]["choices"] = []
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(FlowError) as err:
        load_flow(path)
    assert len(err.value.problems) >= 2
    assert "nowhere" in str(err.value) and "esim: dead end" in str(err.value)


def test_not_a_flow_at_all() -> None:
    assert validate_flow([1, 2]) != []
    assert validate_flow({"start": "menu", "nodes": {}}) != []


def test_mermaid_draws_every_node_and_route() -> None:
    flow = load_flow()
    text = to_mermaid(flow)
    assert text.startswith("flowchart TD")
    for nid, node in flow.nodes.items():
        assert f"  {nid}" in text
        for c in node.choices:
            assert f"| {c.next}" in text


def test_answer_reachable_without_its_inputs(raw: dict[str, Any]) -> None:
    raw["nodes"]["support"]["choices"].append(
        {"label": "最短の解約日", "value": "shortcut", "next": "min_period_answer"}
    )
    assert "node min_period_answer: reachable without asking start_date" in validate_flow(raw)


def test_a_loop_of_skipped_questions(raw: dict[str, Any]) -> None:
    raw["nodes"]["fees_end"]["next"] = "fees_start"  # both dates known: round and round
    problems = validate_flow(raw)
    assert any(p.startswith("automatic loop through") and "fees_start" in p for p in problems)


# ---- slots: which fact of a message fills which slot -----------------------------------


@pytest.mark.parametrize(
    ("slot", "spec", "problem"),
    [
        ("plan", {"fact": "planet", "label": "x"}, "slot plan: unknown fact 'planet'"),
        ("start_date", {"role": "birthday", "label": "x"}, "slot start_date: role must be"),
        ("start_date", {"fact": "plan", "label": "x"}, "node min_period asks it, but the fact"),
        ("plan", {"role": "start", "label": "x"}, "node fees asks it, but the fact is date"),
        ("plan", {"fact": "plan"}, "slot plan: needs a 'label'"),
        ("plan", {"fact": "plan", "label": "x", "colour": 1}, "unexpected key 'colour'"),
        ("sim", {"fact": "sim", "label": "x", "values": {"sms": "sms"}}, "no choice of node"),
        ("nothing", {"fact": "plan", "label": "x"}, "slot nothing: no question asks it"),
    ],
)
def test_slot_declaration_mistakes(
    raw: dict[str, Any], slot: str, spec: dict[str, Any], problem: str
) -> None:
    raw["slots"][slot] = spec
    assert any(problem in p for p in validate_flow(raw)), validate_flow(raw)


def test_card_row_must_show_a_known_slot(raw: dict[str, Any]) -> None:
    raw["nodes"]["esim"]["rows"].append({"label": "色", "slot": "colour"})
    assert any("shows unknown slot 'colour'" in p for p in validate_flow(raw))


def test_question_next_needs_a_slot(raw: dict[str, Any]) -> None:
    raw["nodes"]["menu_more"]["next"] = "menu"
    assert any("menu_more: a question's 'next' needs a 'slot'" in p for p in validate_flow(raw))


def test_date_prefix_is_reserved_for_candidate_dates(raw: dict[str, Any]) -> None:
    raw["nodes"]["fees"]["choices"][0]["value"] = "date:2026-01-01"
    assert any("reserved prefix" in p for p in validate_flow(raw))


def _many(n: int) -> list[dict[str, Any]]:
    # Distinct labels and places: each leads to the menu with an answer of its own.
    return [
        {"label": f"選択{i}", "value": f"c{i}", "next": "menu", "set": {"plan": f"p{i}"}}
        for i in range(n)
    ]


def test_an_answer_card_keeps_room_for_the_two_feedback_choices(raw: dict[str, Any]) -> None:
    # Issue 9: 「解決した」「解決しない」 and, when stuck, メニューへ come on top of a
    # card's own choices; all must fit MAX_CHOICES (LINE pages them, Slack's block holds 25).
    raw["nodes"]["esim"]["choices"] = _many(MAX_CHOICES - 3)
    raw["nodes"]["esim"]["choices"][0] = {"label": "メニューへ", "value": "menu", "next": "menu"}
    ok = [p for p in validate_flow(raw) if "node esim:" in p and "choices" in p]
    assert ok == []
    raw["nodes"]["esim"]["choices"] += [{"label": "もう一つ", "value": "extra", "next": "cancel"}]
    problems = validate_flow(raw)
    assert f"node esim: {MAX_CHOICES - 2} choices, at most {MAX_CHOICES - 3}" in problems
    # A question has no feedback choices: only the menu button is reserved there.
    raw["nodes"]["menu_more"]["choices"] = _many(MAX_CHOICES - 1)
    assert not [p for p in validate_flow(raw) if p.startswith("node menu_more:") and "at most" in p]


def test_feedback_values_are_reserved_and_the_unresolved_node_must_exist(
    raw: dict[str, Any],
) -> None:
    raw["nodes"]["menu"]["choices"][0]["value"] = "fb:resolved"
    raw["unresolved"] = "nowhere"
    problems = validate_flow(raw)
    assert "node menu: choice value 'fb:resolved' uses a reserved prefix" in problems
    assert "flow: unresolved node 'nowhere' does not exist" in problems


def test_a_handoff_node_speaks_through_the_runner_only(raw: dict[str, Any]) -> None:
    raw["nodes"]["handoff"]["text"] = "おつなぎします"
    assert "node handoff: a handoff has no text, choices or next (the runner speaks)" in (
        validate_flow(raw)
    )
