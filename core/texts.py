"""Sentences a customer reads live in texts files, never in Python, so a writer changes
wording without reading code: core/dialogue/texts.yaml for the core, one texts.yaml per
platform adapter. This reads one such file; `say` looks a sentence up and fills its
{placeholders}. `iijmio-bot lint` checks every key used exists and every key is used
(core/dialogue/texts_lint.py).

A leaf module (only yaml below it), so the value modules may use it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

import yaml

from core.yaml_data import load_yaml

CORE_TEXTS_PATH = Path(__file__).parent / "dialogue" / "texts.yaml"


class TextsError(ValueError):
    """A texts file is not a mapping of keys to sentences."""


def read_texts(path: Path) -> dict[str, str]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TextsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise TextsError(f"{path}: must be a mapping of text ids to texts")
    return {str(k): str(v) for k, v in data.items()}


class Texts:
    """One texts file, read on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._table: Mapping[str, str] | None = None

    @classmethod
    def beside(cls, module_file: str) -> Texts:
        """The texts.yaml in the folder of the module whose __file__ is given."""
        return cls(Path(module_file).with_name("texts.yaml"))

    @property
    def table(self) -> Mapping[str, str]:
        if self._table is None:
            self._table = read_texts(self.path)
        return self._table

    def say(self, key: str, **values: str) -> str:
        text = self.table[key]
        return text.format(**values) if values else text


@cache
def core_texts() -> Texts:
    return Texts(CORE_TEXTS_PATH)


def say(key: str, **values: str) -> str:
    """A sentence of the core's texts file, its {placeholders} filled from `values`."""
    return core_texts().say(key, **values)
