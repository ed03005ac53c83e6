"""Reads flow.yaml and texts.yaml; a flow that fails validation never loads."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from core.dialogue.model import Flow, parse_flow
from core.dialogue.validator import validate_flow
from core.nlu import topic_ids
from core.texts import CORE_TEXTS_PATH, TextsError, read_texts
from core.yaml_data import load_yaml

HERE = Path(__file__).parent
FLOW_PATH = HERE / "flow.yaml"


class FlowError(ValueError):
    """The flow file is unusable; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("flow.yaml has problems:\n" + "\n".join(f"- {p}" for p in problems))
        self.problems = problems


def flow_version(content: bytes) -> str:
    # Content hash: a session saved under another file knows the flow changed.
    return hashlib.sha256(content).hexdigest()[:12]


def read_raw(path: Path | None = None) -> tuple[Any, str]:
    content = (path or FLOW_PATH).read_bytes()
    try:
        raw = load_yaml(content)
    except yaml.YAMLError as exc:
        raise FlowError([f"not valid YAML: {exc}"]) from exc
    return raw, flow_version(content)


def load_flow(path: Path | None = None) -> Flow:
    raw, version = read_raw(path)
    # Every topic understanding can produce must lead somewhere, or it would be ignored.
    problems = validate_flow(raw, topic_ids=topic_ids())
    flow, _ = parse_flow(raw, version)
    if problems or flow is None:
        raise FlowError(problems or ["flow could not be parsed"])
    return flow


@cache
def load_texts(path: Path = CORE_TEXTS_PATH) -> Mapping[str, str]:
    try:
        return read_texts(path)
    except TextsError as exc:
        raise FlowError([str(exc)]) from exc
