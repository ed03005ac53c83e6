"""The rule book: the shipped data is consistent, and broken data is explained."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from core.policy.rules import (
    DEFAULT_PATH,
    RULE_IDS,
    NoRuleInForce,
    RulesError,
    load_rules,
    validate_rules,
)


def _shipped() -> dict[str, object]:
    doc = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _rules(doc: dict[str, object]) -> list[dict[str, object]]:
    rules = doc["rules"]
    assert isinstance(rules, list)
    return rules


def _problems(tmp_path: Path, doc: dict[str, object]) -> list[str]:
    return validate_rules(load_rules(_write(tmp_path, doc), strict=False))


def test_shipped_rules_are_consistent_and_current() -> None:
    book = load_rules()
    assert validate_rules(book) == []
    assert book.as_of == date(2026, 11, 24)
    assert book.rule_ids() == RULE_IDS
    for rid in RULE_IDS:
        rule = book.in_force(rid, book.as_of)
        assert rule.source_url.startswith("https://")
        assert rule.source.strip()


def test_default_book_is_loaded_once() -> None:
    assert load_rules() is load_rules()


def test_r3_switches_from_next_month_end_to_same_month_end_on_2023_12_01() -> None:
    book = load_rules()
    old = book.in_force("R3", date(2023, 11, 30))
    new = book.in_force("R3", date(2023, 12, 1))
    assert old.params["kind"] == "next_month_end"
    assert old.effective_to == date(2023, 11, 30)
    assert new.params["kind"] == "same_month_end"
    assert new.effective_from == date(2023, 12, 1)
    assert new.source_url == "https://www.iijmio.jp/hdd/care/"


def test_initial_cancellation_points_to_the_web_form() -> None:
    rule = load_rules().in_force("R4", date(2026, 11, 24))
    assert rule.source_url == "https://www.iijmio.jp/service/setup/hdd/terminate/"
    assert rule.int_param("days") == 8


def test_in_force_before_any_version_names_the_rule_and_day() -> None:
    with pytest.raises(NoRuleInForce, match=r"R4.*2010-01-01"):
        load_rules().in_force("R4", date(2010, 1, 1))
    with pytest.raises(NoRuleInForce, match="R9"):
        load_rules().in_force("R9", date(2026, 1, 1))


def test_gap_between_versions_is_reported_with_its_dates(tmp_path: Path) -> None:
    doc = _shipped()
    for r in _rules(doc):
        if r["id"] == "R3" and r["version"] == 2:
            r["effective_from"] = date(2023, 12, 5)
    problems = _problems(tmp_path, doc)
    assert problems == ["R3: gap with no version in force from 2023-12-01 to 2023-12-04"]


def test_overlapping_versions_are_reported(tmp_path: Path) -> None:
    doc = _shipped()
    for r in _rules(doc):
        if r["id"] == "R3" and r["version"] == 1:
            r["effective_to"] = None
    problems = _problems(tmp_path, doc)
    assert len(problems) == 1
    assert "R3" in problems[0] and "overlaps" in problems[0]


def test_missing_unknown_and_unsourced_rules_are_each_reported(tmp_path: Path) -> None:
    doc = _shipped()
    rules = [r for r in _rules(doc) if r["id"] != "R5"]
    for r in rules:
        if r["id"] == "R7":
            r["source"] = ""
            r["source_url"] = "help.iijmio.jp"
    rules.append({**rules[0], "id": "R9"})
    doc["rules"] = rules
    problems = _problems(tmp_path, doc)
    assert any(p.startswith("R5: missing") for p in problems)
    assert any(p.startswith("R9: unknown rule id") for p in problems)
    assert "R7 v1: missing source" in problems
    assert any(p.startswith("R7 v1: source_url must be an https://") for p in problems)


def test_reversed_dates_and_stale_as_of_are_reported(tmp_path: Path) -> None:
    doc = _shipped()
    for r in _rules(doc):
        if r["id"] == "R3" and r["version"] == 1:
            r["effective_to"] = date(1999, 1, 1)
    doc["as_of"] = date(1990, 1, 1)
    problems = _problems(tmp_path, doc)
    assert any("effective_to 1999-01-01 is before effective_from 2000-01-01" in p for p in problems)
    assert "R1: no version in force on as_of 1990-01-01" in problems


def test_bad_params_are_reported(tmp_path: Path) -> None:
    doc = _shipped()
    for r in _rules(doc):
        params = r["params"]
        assert isinstance(params, dict)
        if r["id"] == "R5":
            params["deadline"] = "8pm"
        if r["id"] == "R4":
            del params["days"]
        if r["id"] == "R3" and r["version"] == 2:
            params["kind"] = "quarter_end"
    problems = _problems(tmp_path, doc)
    assert "R5 v1: deadline must be HH:MM, got '8pm'" in problems
    assert any(p.startswith("R4 v1: param 'days' missing") for p in problems)
    assert any(p.startswith("R3 v2: param kind='quarter_end'") for p in problems)


def test_strict_load_raises_with_every_problem_listed(tmp_path: Path) -> None:
    doc = _shipped()
    doc["rules"] = [r for r in _rules(doc) if r["id"] not in ("R6", "R7")]
    with pytest.raises(RulesError) as err:
        load_rules(_write(tmp_path, doc))
    assert "R6: missing" in str(err.value)
    assert "R7: missing" in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules: [\n  - id: R1\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("as_of: someday\nrules: []\n", "as_of: expected a date"),
        ("as_of: 2026-11-24\nrules: []\n", "'rules' must be a non-empty list"),
        ("as_of: 2026-11-24\nrules:\n  - id: R1\n", "missing field 'version'"),
    ],
)
def test_malformed_files_give_a_clear_rules_error(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError, match=expected):
        load_rules(path)


def test_missing_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "nope.yaml")
