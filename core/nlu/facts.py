"""Facts stated in a message (plan, SIM type, keep-the-number, carrier, option, amount).

Contract: `extract_facts(text, today)` takes the message as typed and returns `Facts` with
every field it is sure of and nothing it guesses; dates are added by `core.nlu.dates`, not
here. Placeholder until the extractor lands: states no facts.
"""

from __future__ import annotations

from datetime import date

from core.intent import Facts


def extract_facts(text: str, today: date) -> Facts:
    return Facts()
