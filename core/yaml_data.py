"""Reading the YAML data files (flow, rules, lexicon, texts, reminders).

libyaml's loader when PyYAML was built with it: the pure-Python one spent about 0.8 s of
every process start (`iijmio-bot chat`, `serve`, each CLI test) reading these files.
Both are the safe loader, so what a file means does not depend on which one ran.
"""

from __future__ import annotations

from typing import IO, Any

import yaml

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(source: str | bytes | IO[str] | IO[bytes]) -> Any:
    return yaml.load(source, Loader=_Loader)
