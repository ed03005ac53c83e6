"""The stored readings (core/nlu/data/readings.json) are those pykakasi gives today for
every kanji word of the lexicon: regenerate with `python -m core.nlu.readings`."""

from __future__ import annotations

import json

from core.nlu.lexicon import READINGS_FILE
from core.nlu.readings import readings


def test_stored_readings_are_complete_and_current() -> None:
    stored = json.loads(READINGS_FILE.read_text(encoding="utf-8"))
    assert stored == readings(), "run: python -m core.nlu.readings"
