"""The conversation as data (flow.yaml) and the pure engine that runs it."""

from core.dialogue.checks import lint
from core.dialogue.engine import FlowDialogue, default_dialogue
from core.dialogue.graph import to_mermaid
from core.dialogue.loader import FlowError, load_flow
from core.dialogue.model import Flow, Node, NodeKind
from core.dialogue.validator import validate_flow

__all__ = [
    "Flow",
    "FlowDialogue",
    "FlowError",
    "Node",
    "NodeKind",
    "default_dialogue",
    "lint",
    "load_flow",
    "to_mermaid",
    "validate_flow",
]
