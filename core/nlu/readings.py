"""Write data/readings.json: the hiragana reading of every kanji word of the lexicon.

    python -m core.nlu.readings

The lexicon matches each kanji word by its reading too (さいていりようきかん). Reading with
pykakasi costs half a second of start-up, so the readings are stored once here;
tests/unit/test_nlu_readings.py fails when a word is missing or its reading changed.
"""

from __future__ import annotations

import json

from core.nlu.lexicon import READINGS_FILE, kanji_words, read_aloud


def readings() -> dict[str, str]:
    return {w: read_aloud(w) for w in sorted(kanji_words())}


def main() -> None:
    text = json.dumps(readings(), ensure_ascii=False, indent=0, sort_keys=True)
    READINGS_FILE.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {READINGS_FILE}")


if __name__ == "__main__":
    main()
