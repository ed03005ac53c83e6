"""The rule book: rules.yaml loaded into frozen values, and its consistency check.

Structural problems (not YAML, a field missing or of the wrong type) raise RulesError
at once; problems of meaning (a gap between versions, a rule missing) are collected
by validate_rules so a maintainer sees all of them in one go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from core.yaml_data import load_yaml

RULE_IDS: tuple[str, ...] = ("R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8")
DEFAULT_PATH = Path(__file__).with_name("rules.yaml")

ParamValue = str | int | bool

# What each calculator reads; checked here so a bad edit fails at load, not mid-chat.
REQUIRED_PARAMS: Mapping[str, Mapping[str, type]] = {
    "R1": {"effective": str},
    "R2": {"rounding": str, "cancellation_month_prorated": bool},
    "R3": {"kind": str},
    "R4": {"days": int},
    "R5": {"deadline": str},
    "R6": {"months": int, "amount_yen": int, "tax": str},
    "R7": {"mnp_fee_yen": int, "line_ends": str, "month_billed_in_full": bool},
    "R8": {"valid_days": int, "accept_days_left": int},
}
ALLOWED_VALUES: Mapping[tuple[str, str], frozenset[str]] = {
    ("R1", "effective"): frozenset({"month_end"}),
    ("R2", "rounding"): frozenset({"floor", "ceil"}),
    ("R3", "kind"): frozenset({"next_month_end", "same_month_end"}),
}


class RulesError(ValueError):
    """The rules file cannot be used: unreadable, malformed, or inconsistent."""


class NoRuleInForce(LookupError):
    pass


@dataclass(frozen=True)
class RuleVersion:
    id: str
    version: int
    effective_from: date
    effective_to: date | None  # inclusive; None = still in force
    title: str
    source: str
    source_url: str
    params: Mapping[str, ParamValue] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    def covers(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def int_param(self, name: str) -> int:
        value = self.params.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RulesError(f"{self.label}: param {name!r} must be an integer, got {value!r}")
        return value

    def str_param(self, name: str) -> str:
        value = self.params.get(name)
        if not isinstance(value, str):
            raise RulesError(f"{self.label}: param {name!r} must be text, got {value!r}")
        return value

    def bool_param(self, name: str) -> bool:
        value = self.params.get(name)
        if not isinstance(value, bool):
            raise RulesError(f"{self.label}: param {name!r} must be true/false, got {value!r}")
        return value

    @property
    def label(self) -> str:
        return f"{self.id} v{self.version}"


@dataclass(frozen=True)
class RuleBook:
    as_of: date  # the day the data was last checked against the sources
    versions: tuple[RuleVersion, ...]

    def rule_ids(self) -> tuple[str, ...]:
        return tuple(sorted({v.id for v in self.versions}))

    def versions_of(self, rule_id: str) -> tuple[RuleVersion, ...]:
        return tuple(
            sorted((v for v in self.versions if v.id == rule_id), key=lambda v: v.effective_from)
        )

    def in_force(self, rule_id: str, on: date) -> RuleVersion:
        for v in self.versions_of(rule_id):
            if v.covers(on):
                return v
        known = ", ".join(
            f"{v.label} {v.effective_from}〜{v.effective_to or ''}"
            for v in self.versions_of(rule_id)
        )
        raise NoRuleInForce(
            f"no version of {rule_id} is in force on {on.isoformat()} (versions: {known or 'none'})"
        )


def load_rules(path: Path | None = None, *, strict: bool = True) -> RuleBook:
    """Load a rule book. strict: also raise RulesError when validate_rules finds problems."""
    if path is None:
        return _default_book()
    return _load(path, strict)


@lru_cache(maxsize=1)
def _default_book() -> RuleBook:
    return _load(DEFAULT_PATH, strict=True)


def _load(path: Path, strict: bool) -> RuleBook:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read rules file: {exc}") from exc
    book = parse_rules(text, origin=str(path))
    if strict:
        problems = validate_rules(book)
        if problems:
            raise RulesError(f"{path}: rules are inconsistent:\n- " + "\n- ".join(problems))
    return book


def parse_rules(text: str, *, origin: str = "<rules>") -> RuleBook:
    try:
        doc = load_yaml(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise RulesError(f"{origin}: expected a mapping with 'as_of' and 'rules'")
    as_of = _as_date(doc.get("as_of"), f"{origin}: as_of")
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RulesError(f"{origin}: 'rules' must be a non-empty list")
    versions = tuple(_parse_version(r, f"{origin}: rules[{i}]") for i, r in enumerate(raw_rules))
    return RuleBook(as_of=as_of, versions=versions)


def _parse_version(raw: Any, where: str) -> RuleVersion:
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: expected a mapping")
    for key in ("id", "version", "effective_from", "title", "source", "source_url"):
        if key not in raw:
            raise RulesError(f"{where}: missing field {key!r}")
    where = f"{where} ({raw['id']})"
    version = raw["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise RulesError(f"{where}: version must be an integer, got {version!r}")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise RulesError(f"{where}: params must be a mapping")
    for name, value in params.items():
        if not isinstance(name, str) or not isinstance(value, str | int | bool):
            raise RulesError(f"{where}: param {name!r} must be text, a number or true/false")
    effective_to = raw.get("effective_to")
    return RuleVersion(
        id=_as_str(raw["id"], f"{where}: id"),
        version=version,
        effective_from=_as_date(raw["effective_from"], f"{where}: effective_from"),
        effective_to=None
        if effective_to is None
        else _as_date(effective_to, f"{where}: effective_to"),
        title=_as_str(raw["title"], f"{where}: title"),
        source=_as_str(raw["source"], f"{where}: source"),
        source_url=_as_str(raw["source_url"], f"{where}: source_url"),
        params=MappingProxyType(dict(params)),
    )


def _as_date(value: Any, where: str) -> date:
    # YAML gives dates for unquoted ISO dates; accept quoted ones too.
    if isinstance(value, datetime):
        raise RulesError(f"{where}: expected a date, got a date and time {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RulesError(f"{where}: expected a date like 2026-11-24, got {value!r}")


def _as_str(value: Any, where: str) -> str:
    if value is None:
        return ""  # reported by validate_rules as missing, with the rest
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RulesError(f"{where}: expected text, got {value!r}")
    return str(value)


def validate_rules(book: RuleBook) -> list[str]:
    """Every problem of meaning, in words a maintainer can act on. Empty = usable."""
    problems: list[str] = []
    present = {v.id for v in book.versions}
    for rid in sorted(present - set(RULE_IDS)):
        problems.append(f"{rid}: unknown rule id (expected one of {', '.join(RULE_IDS)})")
    for rid in RULE_IDS:
        if rid not in present:
            problems.append(f"{rid}: missing (no version of this rule)")
    for v in book.versions:
        problems.extend(_version_problems(v))
    for rid in sorted(present):
        problems.extend(_timeline_problems(rid, book))
        if rid in RULE_IDS and not any(v.covers(book.as_of) for v in book.versions_of(rid)):
            problems.append(f"{rid}: no version in force on as_of {book.as_of.isoformat()}")
    return problems


def _version_problems(v: RuleVersion) -> list[str]:
    out: list[str] = []
    if v.effective_to is not None and v.effective_to < v.effective_from:
        out.append(
            f"{v.label}: effective_to {v.effective_to} is before effective_from {v.effective_from}"
        )
    if not v.title.strip():
        out.append(f"{v.label}: missing title")
    if not v.source.strip():
        out.append(f"{v.label}: missing source")
    if not v.source_url.startswith("https://"):
        out.append(f"{v.label}: source_url must be an https:// address, got {v.source_url!r}")
    for name, kind in REQUIRED_PARAMS.get(v.id, {}).items():
        value = v.params.get(name)
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if not ok:
            out.append(f"{v.label}: param {name!r} missing or not {kind.__name__}: {value!r}")
        elif (allowed := ALLOWED_VALUES.get((v.id, name))) and value not in allowed:
            out.append(f"{v.label}: param {name}={value!r}, expected one of {sorted(allowed)}")
    if v.id == "R5" and isinstance(v.params.get("deadline"), str):
        try:
            parse_hhmm(v.str_param("deadline"))
        except ValueError:
            out.append(f"{v.label}: deadline must be HH:MM, got {v.params['deadline']!r}")
    return out


def _timeline_problems(rule_id: str, book: RuleBook) -> list[str]:
    out: list[str] = []
    versions = book.versions_of(rule_id)
    seen: set[int] = set()
    for v in versions:
        if v.version in seen:
            out.append(f"{rule_id}: version {v.version} appears twice")
        seen.add(v.version)
    for prev, nxt in pairwise(versions):
        if prev.effective_to is None or nxt.effective_from <= prev.effective_to:
            end = prev.effective_to.isoformat() if prev.effective_to else "open end"
            out.append(
                f"{rule_id}: {prev.label} ({prev.effective_from}〜{end}) overlaps "
                f"{nxt.label} (from {nxt.effective_from})"
            )
        elif nxt.effective_from > prev.effective_to + timedelta(days=1):
            first = prev.effective_to + timedelta(days=1)
            last = nxt.effective_from - timedelta(days=1)
            out.append(f"{rule_id}: gap with no version in force from {first} to {last}")
    return out


def parse_hhmm(text: str) -> tuple[int, int]:
    hh, sep, mm = text.partition(":")
    if not sep or len(mm) != 2 or not hh.isdigit() or not mm.isdigit():
        raise ValueError(f"not HH:MM: {text!r}")
    hour, minute = int(hh), int(mm)
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"not HH:MM: {text!r}")
    return hour, minute
