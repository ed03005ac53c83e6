"""The `iijmio-bot` console program, run as a real subprocess: the chat contract of
docs/design.md (--json, --now, --user, --redis, on a terminal and piped), lint, graph and
line-richmenu. Nothing here waits a fixed time: each step waits for the output it needs."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
import queue
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.dialogue.loader import FLOW_PATH
from core.policy.rules import DEFAULT_PATH as RULES_PATH
from tests.integration.line_stub import ACCESS_TOKEN, LineStub, serve

NOW = "2026-11-24T10:00"
KEYS = {"node", "texts", "choices", "asks_date"}


ROOT = Path(__file__).resolve().parents[2]
ENV = {"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}


def run_cli(
    *args: str,
    stdin: str = "",
    env_redis: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**ENV, **(env or {})}
    if env_redis:
        env["REDIS_URL"] = env_redis
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )


class LiveChat:
    """`chat --json` driven one line at a time, the way a program talks to it: each answer
    must arrive (flushed) before the next line is written."""

    def __init__(self, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "chat", "--json", "--now", NOW, *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
            cwd=ROOT,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def say(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        # A generous bound only so a broken build fails instead of hanging the suite.
        obj: dict[str, Any] = json.loads(self.lines.get(timeout=60))
        return obj

    def finish(self) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


def chat_json(*lines: str, now: str = NOW, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    stdin = "".join(f"{x}\n" for x in lines)
    proc = run_cli("chat", "--json", "--now", now, *extra, stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(x) for x in proc.stdout.splitlines()]


def joined(obj: dict[str, Any]) -> str:
    return "\n".join(obj["texts"])


def test_json_prints_nothing_before_input_and_one_object_per_line() -> None:
    proc = run_cli("chat", "--json", "--now", NOW, stdin="")
    assert proc.returncode == 0
    assert proc.stdout == ""

    out = chat_json("こんにちは", "ヘルプ", "ぴよぴよ")
    assert len(out) == 3
    for obj in out:
        assert set(obj) == KEYS
        assert isinstance(obj["texts"], list) and obj["texts"]
        assert all(set(c) == {"label", "value"} for c in obj["choices"])
    assert out[0]["node"] == "menu"
    assert any("ヘルプ" in c["label"] or "解約" in c["label"] for c in out[0]["choices"])


def test_a_whole_conversation_reaches_the_dated_answer() -> None:
    menu, asked, answer = chat_json("メニュー", "最低利用期間はいつまで？", "2026年11月10日")
    assert menu["node"] == "menu"
    assert asked["asks_date"] is True
    assert answer["asks_date"] is False
    text = joined(answer)
    assert "2026年11月30日(月)" in text
    assert "出典" in text and "2026年11月24日(火)時点" in text


def test_a_live_session_picks_the_topic_by_number_then_types_the_date() -> None:
    chat = LiveChat()
    menu = chat.say("メニュー")
    number = 1 + [c["value"] for c in menu["choices"]].index("min_period")
    asked = chat.say(str(number))
    assert asked["node"] == "min_period" and asked["asks_date"] is True
    answer = chat.say("2026年11月10日")
    assert "2026年11月30日(月)" in joined(answer)
    assert answer["choices"], "an answer offers where to go next"
    returncode, err = chat.finish()  # stdin closed: EOF ends the chat
    assert returncode == 0 and err == ""


def test_ctrl_c_ends_the_chat_cleanly() -> None:
    chat = LiveChat()
    assert chat.say("メニュー")["node"] == "menu"  # now it is waiting for the next line
    chat.proc.send_signal(signal.SIGINT)
    returncode, err = chat.finish()
    assert returncode == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


class Terminal:
    """The chat on a pseudo-terminal, the way a person runs it. Each step waits for what a
    person would wait for: a reply and then the `> ` prompt. The prompt appears only once
    readline has put the terminal in its own mode, so keys written after it (Ctrl-D) are
    read as keys; written earlier they may be lost. No fixed sleeps anywhere."""

    PROMPT = "> "
    BOUND = 60.0  # seconds; only so a broken build fails instead of hanging the suite

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "chat", "--now", NOW, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**ENV, "TERM": "dumb", **(env or {})},
            cwd=ROOT,
        )
        os.close(slave)
        self.seen = ""  # everything read and not yet returned by expect()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def _read(self, timeout: float) -> bool:
        """Add what the terminal shows to self.seen; False once the program closed it."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every process holding the terminal has exited
            chunk = b""
        self.seen += self._decoder.decode(chunk)  # keeps a character split between reads
        return bool(chunk)

    def expect(self, marker: str) -> str:
        """Everything up to and including marker; fails if it does not come."""
        deadline = time.monotonic() + self.BOUND
        while marker not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{marker!r} never came; the terminal showed {self.seen!r}"
            assert self._read(left), f"the chat ended before {marker!r}: {self.seen!r}"
        upto = self.seen.index(marker) + len(marker)
        out, self.seen = self.seen[:upto], self.seen[upto:]
        return out

    def rest(self) -> str:
        """Everything the program shows until it closes the terminal."""
        deadline = time.monotonic() + self.BOUND
        while self._read(max(0.0, deadline - time.monotonic())):
            assert time.monotonic() < deadline, f"the chat did not end: {self.seen!r}"
        out, self.seen = self.seen, ""
        return out

    def prompt(self) -> str:
        """What the chat showed until it waits for the next line."""
        return self.expect(self.PROMPT)

    def type(self, line: str) -> None:
        os.write(self.master, f"{line}\n".encode())

    def ctrl_d(self) -> None:
        os.write(self.master, b"\x04")

    def exit_code(self) -> int:
        return self.proc.wait(timeout=self.BOUND)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@contextlib.contextmanager
def terminal(*args: str) -> Iterator[Terminal]:
    term = Terminal(*args)
    try:
        yield term
    finally:
        term.close()


def test_on_a_terminal_the_menu_and_a_prompt_come_first() -> None:
    with terminal() as term:
        opening = term.prompt()
        assert "1. " in opening and "最低利用期間" in opening
        assert term.seen == "", "nothing may follow the prompt"
        term.type("最低利用期間")
        asked = term.prompt()
        assert "利用開始日" in asked and "入力できます" in asked
        term.ctrl_d()  # on an empty line, once the prompt is up
        assert term.exit_code() == 0


def test_on_a_terminal_ending_the_conversation_ends_the_program() -> None:
    with terminal() as term:
        term.prompt()
        term.type("終了")
        said = term.expect("ありがとうございました")
        assert "ご利用" in said
        after = term.rest()  # no Ctrl-D: the goodbye alone closes the program
        assert term.exit_code() == 0
        assert term.PROMPT.strip() not in after, after


def test_ending_the_conversation_ends_a_piped_chat_too() -> None:
    out = chat_json("メニュー", "終了", "メニュー")
    assert len(out) == 2, "nothing is answered after the goodbye"
    assert "ありがとうございました" in joined(out[-1])


def test_on_a_terminal_a_resumed_conversation_shows_its_pending_question(
    redis_url: str,
) -> None:
    redis_args = ("--redis", redis_url, "--user", "resumer")
    [asked] = chat_json("違約金・手数料", extra=redis_args)
    labels = [c["label"] for c in asked["choices"]]
    assert asked["node"] == "fees" and labels
    with terminal(*redis_args) as term:
        shown = term.prompt()
        assert "ご用件を選んでください" not in shown, "a live conversation is not restarted"
        for label in labels:
            assert label in shown
        # The choices shown are the ones a number picks.
        term.type("1")
        picked = term.prompt()
        assert labels[0] in picked or "ギガ" in picked
        term.ctrl_d()
        assert term.exit_code() == 0


def test_on_a_terminal_a_resumed_date_question_is_asked_again(redis_url: str) -> None:
    redis_args = ("--redis", redis_url, "--user", "resumer")
    [asked] = chat_json("初期契約解除", extra=redis_args)
    assert asked["asks_date"] is True
    with terminal(*redis_args) as term:
        shown = term.prompt()
        assert "受け取った日" in shown and "入力できます" in shown
        term.ctrl_d()
        assert term.exit_code() == 0


def test_blank_lines_are_not_misunderstandings() -> None:
    out = chat_json("解約したい", "", "   ", "\u3000", "\t", "あああ")
    assert len(out) == 2, "a blank line gets no answer"
    slip = joined(out[-1])
    assert "うまく読み取れませんでした" in slip, "あああ is the first slip, not the fourth"
    assert "0570-09-4400" not in slip


def test_on_a_terminal_a_blank_line_just_prompts_again() -> None:
    with terminal() as term:
        term.prompt()
        for _ in range(3):
            term.type("")
            assert term.prompt().strip() == ">"
        term.type("あああ")
        assert "うまく読み取れませんでした" in term.prompt()
        term.ctrl_d()
        assert term.exit_code() == 0


@pytest.mark.parametrize("first", ["解約したい", "メニュー"])
def test_the_first_slip_leads_in_once(first: str) -> None:
    _, slip = chat_json(first, "あああ")
    text = joined(slip)
    assert "うまく読み取れませんでした" in text
    assert text.count("選んでください") == 1, text


def test_choices_pick_by_number_and_by_label() -> None:
    menu, by_number = chat_json("メニュー", "4")
    fourth = menu["choices"][3]
    assert by_number["node"] != "menu"
    assert fourth["label"] in joined(by_number) or by_number["node"] == fourth["value"]

    menu, by_label = chat_json("メニュー", "初期契約解除")
    assert by_label["asks_date"] is True
    assert "受け取った日" in joined(by_label)


def test_a_typed_date_and_the_old_rule_on_an_old_now() -> None:
    out = chat_json("最低利用期間", "6/20", now="2023-06-25T12:00")
    # Asked before 2023-12-01: the old rule (end of the following month) applies.
    assert "2023年7月31日(月)" in joined(out[-1])


def test_dates_are_shown_in_jst_even_for_an_aware_utc_now() -> None:
    # 2026-11-30 11:30 UTC is 20:30 JST: withdrawal is already closed in Japan.
    out = chat_json("解約を取り消したい", "今月末", now="2026-11-30T11:30:00+00:00")
    assert out[-1]["node"] == "withdraw_closed"
    assert "取り消せません" in joined(out[-1])
    assert "20:30時点" in joined(out[-1])
    # The same moment one hour earlier in UTC is 19:30 JST: still possible.
    out = chat_json("解約を取り消したい", "今月末", now="2026-11-30T10:30:00+00:00")
    assert out[-1]["node"] == "withdraw_answer"
    assert "取り消せます" in joined(out[-1])


def test_redis_keeps_the_conversation_across_processes(redis_url: str) -> None:
    first = chat_json("初期契約解除", extra=("--redis", redis_url, "--user", "u1"))
    assert first[-1]["asks_date"] is True
    # A second process, same user: the date answers the question the first one asked.
    second = chat_json("11月20日", extra=("--redis", redis_url, "--user", "u1"))
    assert "2026年11月27日(金)" in joined(second[-1])
    # Another user has a conversation of their own.
    other = chat_json("11月20日", extra=("--redis", redis_url, "--user", "u2"))
    assert "2026年11月27日(金)" not in joined(other[-1])


def test_redis_url_from_the_environment(redis_url: str) -> None:
    proc = run_cli("chat", "--json", "--now", NOW, stdin="メニュー\n", env_redis=redis_url)
    assert proc.returncode == 0, proc.stderr
    import redis

    keys = redis.Redis.from_url(redis_url).keys("iijbot:v1:{cli:-:local}:*")
    assert keys, "the session was not stored in the Redis named by REDIS_URL"


def test_the_chat_keeps_the_servers_session_ttl(redis_url: str) -> None:
    env = {**ENV, "IIJBOT_SESSION_TTL": "120"}
    proc = subprocess.run(
        [sys.executable, "-m", "bots.cli", "chat", "--json", "--redis", redis_url],
        input="メニュー\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    import redis

    ttl = redis.Redis.from_url(redis_url).ttl("iijbot:v1:{cli:-:local}:session")
    assert 0 < ttl <= 120


def test_a_bad_setting_is_one_line_naming_the_variable() -> None:
    proc = run_cli("chat", "--json", stdin="メニュー\n", env_redis="localhost:6379")
    assert proc.returncode == 2
    assert "REDIS_URL" in proc.stderr and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_unreachable_redis_is_a_clear_error_not_a_traceback() -> None:
    proc = run_cli("chat", "--json", "--redis", "redis://127.0.0.1:1/0", stdin="メニュー\n")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Redis" in proc.stderr
    assert "redis://127.0.0.1:1/0" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_bad_now_is_refused_with_usage() -> None:
    proc = run_cli("chat", "--now", "yesterday-ish", stdin="")
    assert proc.returncode == 2
    assert "ISO-8601" in proc.stderr


def test_lint_passes_on_the_shipped_files() -> None:
    proc = run_cli("lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.match(r"OK: [1-9][0-9]* nodes, [1-9][0-9]* rules", proc.stdout), proc.stdout


def test_lint_reports_a_broken_flow_readably(tmp_path: Path) -> None:
    broken = tmp_path / "flow.yaml"
    broken.write_text(
        FLOW_PATH.read_text(encoding="utf-8").replace("next: min_period", "next: no_such_node", 1),
        encoding="utf-8",
    )
    proc = run_cli("lint", "--flow", str(broken))
    assert proc.returncode == 1
    assert "no_such_node" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_lint_reports_broken_rules_readably(tmp_path: Path) -> None:
    text = RULES_PATH.read_text(encoding="utf-8")
    broken = tmp_path / "rules.yaml"
    broken.write_text(text.replace("effective_to: 2023-11-30", "effective_to: 2023-11-20"), "utf-8")
    proc = run_cli("lint", "--rules", str(broken))
    assert proc.returncode == 1
    assert "R3" in proc.stdout


@pytest.mark.parametrize("garbage", [": : :\n  - [", "nodes: 3\n"])
def test_lint_survives_a_garbage_flow(tmp_path: Path, garbage: str) -> None:
    broken = tmp_path / "flow.yaml"
    broken.write_text(garbage, encoding="utf-8")
    proc = run_cli("lint", "--flow", str(broken))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("option", ["--flow", "--rules"])
@pytest.mark.parametrize("where", ["missing", "directory"])
def test_lint_names_a_file_it_cannot_read_in_one_line(
    tmp_path: Path, option: str, where: str
) -> None:
    path = tmp_path / "nonexistent.yaml" if where == "missing" else tmp_path
    proc = run_cli("lint", option, str(path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    [line] = proc.stdout.splitlines()
    assert line.startswith("✗ ") and str(path) in line
    assert option.strip("-") in line, "the line says which file it is"


def test_graph_prints_mermaid_with_every_topic() -> None:
    proc = run_cli("graph")
    assert proc.returncode == 0
    assert proc.stdout.startswith("flowchart")
    for node in ("menu", "min_period", "initial", "withdraw", "fees"):
        assert node in proc.stdout


async def line_richmenu(env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    # The stub LINE API runs in this event loop, so the program runs without blocking it.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "line-richmenu",
        env={**ENV, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_line_richmenu_installs_the_shipped_menu_from_any_directory(
    tmp_path: Path,
) -> None:
    stub = LineStub()
    async with serve(stub.app()) as url:
        env = {"LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN, "LINE_API_BASE_URL": url}
        code, out, err = await line_richmenu(env, cwd=tmp_path)
    assert code == 0, err
    assert stub.default_rich_menu is not None
    assert stub.default_rich_menu in out


async def test_line_richmenu_refused_by_line_is_one_clear_line(tmp_path: Path) -> None:
    stub = LineStub()
    async with serve(stub.app()) as url:
        env = {"LINE_CHANNEL_ACCESS_TOKEN": "wrong-token", "LINE_API_BASE_URL": url}
        code, out, err = await line_richmenu(env, cwd=tmp_path)
    assert code == 1 and out == ""
    assert "401" in err and err.count("\n") == 1
    assert "Traceback" not in err and "wrong-token" not in err
    assert stub.default_rich_menu is None


def test_line_richmenu_when_line_cannot_be_reached_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    proc = run_cli(
        "line-richmenu",
        env={"LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN, "LINE_API_BASE_URL": closed},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and proc.stderr.count("\n") == 1
    assert closed in proc.stderr and "reach" in proc.stderr
    assert "refused the rich menu" not in proc.stderr and "did not take" not in proc.stderr
    assert "Traceback" not in proc.stderr and ACCESS_TOKEN not in proc.stderr


def test_line_richmenu_without_a_token_says_so() -> None:
    proc = run_cli("line-richmenu")
    assert proc.returncode == 2
    assert "LINE_CHANNEL_ACCESS_TOKEN" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_answers_health_checks_and_stops_on_sigterm(redis_url: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**ENV, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = None
        deadline = time.monotonic() + 60  # a server that never comes up fails, not hangs
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        assert ready is not None, proc.stderr.read() if proc.stderr else ""
        assert ready.status_code == 200
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert proc.returncode in (0, -signal.SIGTERM), err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_the_whole_loop_on_one_machine_chat_then_report(redis_url: str) -> None:
    # Chat on Redis (platform text), then the team's report reads what it recorded.
    chat_json("ぴよぴよ", "解約したい", extra=("--redis", redis_url, "--user", "loop"))
    proc = run_cli(
        "report", "--redis", redis_url, "--since", "2026-11-24", "--until", "2026-11-25",
        "--format", "json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["platforms"] == [{"platform": "text", "count": 2}]
    assert data["conversations"] == 1
    assert data["zero_hit_share"] == 0.5
    assert data["top_unmatched"] == [{"text": "ぴよぴよ", "count": 1}]
    assert data["topics"][0]["topic"] == "cancel"
