"""The flow as a Mermaid diagram, for `iijmio-bot graph` and reviews of flow.yaml."""

from __future__ import annotations

from core.dialogue.model import Flow, Node, NodeKind

_SHAPES = {
    NodeKind.QUESTION: ("{{", "}}"),
    NodeKind.DATE: ("[/", "/]"),
    NodeKind.SWITCH: ("{", "}"),
    NodeKind.ANSWER: ("[", "]"),
    NodeKind.HANDOFF: ("((", "))"),  # a person takes over
}


def _label(node: Node) -> str:
    text = node.title or node.text or node.id
    # Mermaid breaks on quotes and brackets inside labels.
    for ch in '"[]{}()<>|':
        text = text.replace(ch, " ")
    return f"{node.id}: {text[:24]}"


def to_mermaid(flow: Flow) -> str:
    lines = ["flowchart TD"]
    for node in flow.nodes.values():
        left, right = _SHAPES[node.kind]
        lines.append(f'  {node.id}{left}"{_label(node)}"{right}')
    for node in flow.nodes.values():
        for c in node.choices:
            label = c.label.replace('"', " ").replace("|", " ")
            lines.append(f'  {node.id} -->|"{label}"| {c.next}')
        if node.next and node.kind is not NodeKind.SWITCH:
            # A question's own route takes a typed value no button offers (an amount).
            typed = "日付" if node.kind is NodeKind.DATE else "入力"
            lines.append(f"  {node.id} -->|{typed}| {node.next}")
        for value, target in node.cases:
            lines.append(f'  {node.id} -->|"{value}"| {target}')
        if node.kind is NodeKind.SWITCH and node.next:
            lines.append(f"  {node.id} -.->|その他| {node.next}")
    for topic in flow.topics.values():
        lines.append(f"  topic_{topic.id}((({topic.id}))) -.-> {topic.node}")
    return "\n".join(lines) + "\n"
