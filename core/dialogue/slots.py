"""Which fact of a message fills which slot: the `slots:` section of flow.yaml.

A slot declares the fact that answers it (`fact: plan`) or, for a date, the role the date
must play in the message (`role: start`): a date said as 届いた is a receipt date and never
fills the usage-start question. `values` maps fact values to the slot's own values (an SMS
SIM is the flow's "data" choice); `display` is how a value is shown back; `label` names the
slot when the bot says what it understood; `asked_only` slots are taken only from a reply
to their own question (an amount in a first message may be anything, at the fee question
it is the fee).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from core.intent import DateRole, Facts

DATE_FACT = "date"
DATE_PREFIX = "date:"  # a candidate-date button's value (a rough date offered as days)
# Facts a slot may name: the fields of core.intent.Facts, dates by role.
FACT_NAMES = frozenset(f.name for f in fields(Facts) if f.name != "dates") | {DATE_FACT}
ROLES = frozenset(r.value for r in DateRole if r is not DateRole.NONE)
SLOT_KEYS = frozenset({"fact", "role", "label", "values", "display", "asked_only"})


@dataclass(frozen=True)
class SlotSpec:
    name: str
    fact: str
    label: str
    role: DateRole | None = None
    values: tuple[tuple[str, str], ...] = ()  # fact value -> slot value; empty: the same
    display: tuple[tuple[str, str], ...] = ()  # slot value -> how it is shown back
    asked_only: bool = False

    def slot_value(self, fact_value: str) -> str | None:
        if not self.values:
            return fact_value
        return dict(self.values).get(fact_value)


def _pairs(raw: Any, where: str, errors: list[str]) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        errors.append(f"{where} must be a mapping")
        return ()
    # YAML reads yes/no/true as booleans; the flow means the words.
    return tuple((_word(k), _word(v)) for k, v in raw.items())


def _word(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def parse_slots(raw: Any) -> tuple[dict[str, SlotSpec], list[str]]:
    """The `slots:` section; every problem is returned, nothing raised."""
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, ["flow: 'slots' must be a mapping of slot names"]
    out: dict[str, SlotSpec] = {}
    errors: list[str] = []
    for name, d in raw.items():
        where = f"slot {name}"
        if not isinstance(d, dict):
            errors.append(f"{where}: must be a mapping")
            continue
        errors += [f"{where}: unexpected key {k!r}" for k in d if k not in SLOT_KEYS]
        role = None
        if "role" in d:
            if d["role"] not in ROLES:
                errors.append(f"{where}: role must be one of {', '.join(sorted(ROLES))}")
                continue
            role = DateRole(d["role"])
        fact = str(d.get("fact", DATE_FACT if role else ""))
        if fact not in FACT_NAMES:
            errors.append(f"{where}: unknown fact {fact!r}")
            continue
        if (fact == DATE_FACT) != (role is not None):
            errors.append(f"{where}: a date slot needs a role, and only a date slot has one")
            continue
        if not d.get("label"):
            errors.append(f"{where}: needs a 'label' (said back to the customer)")
        out[str(name)] = SlotSpec(
            name=str(name),
            fact=fact,
            label=str(d.get("label", name)),
            role=role,
            values=_pairs(d.get("values"), f"{where}: 'values'", errors),
            display=_pairs(d.get("display"), f"{where}: 'display'", errors),
            asked_only=bool(d.get("asked_only", False)),
        )
    return out, errors
