"""IIJmio's date rules (R1–R8) as data, and the calculators that apply them."""

from core.policy.calendar import (
    JST,
    format_date_ja,
    format_datetime_ja,
    format_month_ja,
    month_end,
    month_start,
    to_jst,
    today_jst,
)
from core.policy.rules import (
    RULE_IDS,
    NoRuleInForce,
    RuleBook,
    RulesError,
    RuleVersion,
    load_rules,
    validate_rules,
)

__all__ = [
    "JST",
    "RULE_IDS",
    "NoRuleInForce",
    "RuleBook",
    "RuleVersion",
    "RulesError",
    "format_date_ja",
    "format_datetime_ja",
    "format_month_ja",
    "load_rules",
    "month_end",
    "month_start",
    "to_jst",
    "today_jst",
    "validate_rules",
]
