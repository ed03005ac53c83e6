"""Imports go one way, through one door: checked on the source, so a side door fails CI.

Adapters talk to the core only through the turn runner and the value types it speaks
in; value modules import nothing above them, so any layer can use them."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What an adapter may import from the core: the runner, the values it takes and gives,
# the shared metrics registry, and the leaf helpers every layer shares (platform limits,
# UTF-16 clipping, the texts-file reader).
LEAVES = frozenset({"core.limits", "core.clip", "core.texts", "core.yaml_data"})
ADAPTER_MAY_IMPORT = LEAVES | {
    "core.turn",
    "core.reply",
    "core.inbound",
    "core.clock",
    "core.intent",
    "core.metrics",
}
# Value modules and the only core modules each may import.
VALUE_MODULE_MAY_IMPORT = {
    "core/clock.py": frozenset(),
    "core/inbound.py": frozenset(),
    "core/intent.py": frozenset(),
    "core/session.py": frozenset(),
    "core/limits.py": frozenset(),
    "core/clip.py": frozenset(),
    "core/texts.py": frozenset({"core.yaml_data"}),
    "core/yaml_data.py": frozenset(),
    "core/reply.py": frozenset({"core.clock"}) | LEAVES,
}


def core_imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every core module a file imports, at any depth (function-local imports too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            if name == "core" or name.startswith("core."):
                yield node.lineno, name


def test_the_scanner_sees_function_local_imports(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from core.store.base import X\n    import core.dialogue\n")
    assert list(core_imports(src)) == [(2, "core.store.base"), (3, "core.dialogue")]


def test_adapters_use_only_the_turn_runner_and_value_types() -> None:
    files = sorted((ROOT / "adapters").rglob("*.py"))
    assert files
    side_doors = [
        f"{f.relative_to(ROOT)}:{line}: {name}"
        for f in files
        for line, name in core_imports(f)
        if name not in ADAPTER_MAY_IMPORT
    ]
    assert side_doors == []


def test_value_modules_import_nothing_above_them() -> None:
    upward = [
        f"{path}:{line}: {name}"
        for path, allowed in VALUE_MODULE_MAY_IMPORT.items()
        for line, name in core_imports(ROOT / path)
        if name not in allowed
    ]
    assert upward == []


def test_the_flow_validator_does_not_reach_into_understanding() -> None:
    # Understanding's topics are handed to it (by the loader and `lint`), not looked up.
    names = [name for _, name in core_imports(ROOT / "core/dialogue/validator.py")]
    assert not [n for n in names if n.startswith("core.nlu")]


def test_the_terminal_chat_starts_without_the_platform_sdks() -> None:
    # The LINE and Slack SDKs (pydantic models by the hundred) took over a second of the
    # local chat's start; it talks to neither, so it must not import them.
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bots.cli", "chat"],
        input="終了\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()}
    assert not {m for m in imported if m.split(".")[0] in ("linebot", "slack_sdk", "slack_bolt")}
