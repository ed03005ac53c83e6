"""Every sentence a customer reads lives in a texts file: the lint proves each key the code
looks up exists, each key is used, placeholders match, and no sentence hides in Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.dialogue.texts_lint import lint_texts
from core.texts import Texts


def test_shipped_texts_and_code_agree() -> None:
    assert lint_texts() == []


def _project(tmp_path: Path, code: str, texts: str) -> Path:
    (tmp_path / "core" / "dialogue").mkdir(parents=True)
    (tmp_path / "core" / "dialogue" / "texts.yaml").write_text(texts, encoding="utf-8")
    (tmp_path / "core" / "m.py").write_text(code, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("code", "texts", "expected"),
    [
        pytest.param(
            'say("hello")\nsay("helo")\nsay("due", day="1")\nsay("hello" if x else "bye")\n',
            "hello: こんにちは\nbye: さようなら\ndue: '{date}までです'\nold: 使われません\n",
            [
                "core/m.py:2: text 'helo' is not in core/dialogue/texts.yaml",
                "core/m.py:3: text 'due' has placeholders ['date'] but is given ['day']",
                "core/dialogue/texts.yaml: text 'old' is never used",
            ],
            id="missing, mistyped and unused keys",
        ),
        pytest.param(
            '"""ドキュメントは対象外です。"""\nsay("ok")\n'
            'BUSY = "混み合っています。"\nMARK = "※ "\n',
            "ok: はい\n",
            ["core/m.py:3: sentence '混み合っています。' belongs in a texts file"],
            id="a sentence written in Python",
        ),
    ],
)
def test_each_kind_of_mistake_is_reported(
    tmp_path: Path, code: str, texts: str, expected: list[str]
) -> None:
    assert lint_texts(_project(tmp_path, code, texts)) == expected


def test_a_key_not_written_out_or_outside_a_texts_folder_is_reported(tmp_path: Path) -> None:
    root = _project(tmp_path, 'say("ok")\nsay(key)\n', "ok: はい\n")
    (tmp_path / "bots").mkdir()
    (tmp_path / "bots" / "cli.py").write_text('print(say("ok"))\n', encoding="utf-8")
    assert lint_texts(root) == [
        "core/m.py:2: the text key must be written out",
        "bots/cli.py:1: looks up a text outside a folder with a texts file",
    ]


def test_a_writer_changes_wording_in_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "texts.yaml"
    path.write_text("due: '{date}までにお申し込みください。'\n", encoding="utf-8")
    assert Texts(path).say("due", date="2026年11月30日(月)") == (
        "2026年11月30日(月)までにお申し込みください。"
    )
