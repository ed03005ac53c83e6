"""`iijmio-bot lint` for the texts files: every key the code looks up exists, every key is
used, a sentence's {placeholders} are the values its callers pass, and no sentence a
customer reads is written in Python instead of a texts file.

Keys are looked up with `say("key", ...)` (the engine's own `say` included), always with
the key written out, so reading the source is enough to know every key in use.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.texts import TextsError, read_texts

PROJECT = Path(__file__).resolve().parents[2]
LOOKUPS = frozenset({"say"})  # the calls that look a sentence up by its key
CODE_FOLDERS = ("core", "adapters", "bots")
ACCESSOR = Path("core", "texts.py")  # forwards a key it is given; not a use of one

# Japanese in code that is no sentence: the card's list marks and the joiners of a list
# shown inside a sentence. Anything else Japanese in a string literal is a sentence.
MARKS = frozenset({"■ ", "・", "※ ", "」「"})
# Folders and files whose Japanese literals are not said to customers: understanding reads
# Japanese (lexicon patterns), the calendar formats dates, rule checks and the Mermaid
# graph are read by operators, as are the masking placeholders and the support team's
# report.
NOT_SAID = (
    Path("core", "mask.py"),
    Path("core", "report.py"),
    Path("bots", "report.py"),
    Path("bots", "report_html.py"),
    Path("core", "nlu"),
    Path("core", "policy", "calendar.py"),
    Path("core", "clock.py"),
    Path("core", "policy", "rules.py"),
    Path("core", "dialogue", "graph.py"),
)
_JAPANESE = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff01-\uff60]")


@dataclass(frozen=True)
class TextsHome:
    texts: Path  # the texts file, relative to the project
    code: Path  # the folder whose lookups read it


HOMES = (
    TextsHome(Path("core", "dialogue", "texts.yaml"), Path("core")),
    TextsHome(Path("adapters", "line", "texts.yaml"), Path("adapters", "line")),
    TextsHome(Path("adapters", "slack", "texts.yaml"), Path("adapters", "slack")),
    TextsHome(Path("adapters", "text", "texts.yaml"), Path("adapters", "text")),
    TextsHome(Path("adapters", "web", "texts.yaml"), Path("adapters", "web")),
)


@dataclass(frozen=True)
class Lookup:
    where: str  # path:line
    keys: tuple[str, ...]  # every key the call can name (both sides of `a if c else b`)
    values: frozenset[str] | None  # the keyword names passed; None when `**` hides them


def lint_texts(root: Path = PROJECT) -> list[str]:
    """Every problem of the texts files and their use, as readable lines; empty when sound."""
    problems: list[str] = []
    sources = {
        p.relative_to(root): ast.parse(p.read_text(encoding="utf-8"), filename=str(p))
        for p in _python_files(root)
    }
    homed: set[Path] = set()
    for home in HOMES:
        if not (root / home.texts).is_file():
            continue  # a checkout without that platform
        files = [rel for rel in sources if rel.is_relative_to(home.code) and rel != ACCESSOR]
        homed.update(files)
        problems += _check_home(root, home, [(f, sources[f]) for f in files])
    for rel, tree in sources.items():
        if rel not in homed and rel != ACCESSOR:
            problems += [
                f"{lk.where}: looks up a text outside a folder with a texts file"
                for lk in _lookups(rel, tree)
            ]
        problems += _sentences_in_code(rel, tree)
    return problems


def _python_files(root: Path) -> Iterator[Path]:
    for folder in CODE_FOLDERS:
        yield from sorted((root / folder).rglob("*.py"))


def _check_home(root: Path, home: TextsHome, files: list[tuple[Path, ast.Module]]) -> list[str]:
    try:
        table = read_texts(root / home.texts)
    except TextsError as exc:
        return [str(exc)]
    problems: list[str] = []
    used: set[str] = set()
    for rel, tree in files:
        for lk in _lookups(rel, tree):
            if not lk.keys:
                problems.append(f"{lk.where}: the text key must be written out")
            for key in lk.keys:
                used.add(key)
                if key not in table:
                    problems.append(f"{lk.where}: text {key!r} is not in {home.texts}")
                elif lk.values is not None:
                    problems += _check_placeholders(lk, key, table[key], home.texts)
    for key in sorted(table.keys() - used):
        problems.append(f"{home.texts}: text {key!r} is never used")
    return problems


def _check_placeholders(lk: Lookup, key: str, text: str, texts: Path) -> list[str]:
    assert lk.values is not None
    try:
        wanted = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    except ValueError as exc:
        return [f"{texts}: text {key!r} has a broken placeholder: {exc}"]
    if wanted == lk.values:
        return []
    return [
        f"{lk.where}: text {key!r} has placeholders {sorted(wanted)} "
        f"but is given {sorted(lk.values)}"
    ]


def _lookups(rel: Path, tree: ast.Module) -> Iterator[Lookup]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name not in LOOKUPS:
            continue
        spread = any(k.arg is None for k in node.keywords)
        values = None if spread else frozenset(k.arg for k in node.keywords if k.arg)
        yield Lookup(f"{rel}:{node.lineno}", tuple(_written_keys(node.args[0])), values)


def _written_keys(expr: ast.expr) -> Iterator[str]:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        yield expr.value
    elif isinstance(expr, ast.IfExp):
        yield from _written_keys(expr.body)
        yield from _written_keys(expr.orelse)


def _sentences_in_code(rel: Path, tree: ast.Module) -> list[str]:
    if any(rel.is_relative_to(p) for p in NOT_SAID):
        return []
    statements = {
        id(n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    }  # docstrings: read by programmers only
    return [
        f"{rel}:{n.lineno}: sentence {n.value!r} belongs in a texts file"
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and id(n) not in statements
        and n.value not in MARKS
        and _JAPANESE.search(n.value)
    ]
