"""Reminders in the terminal chat (kept, never delivered: it says so once) and the
`worker` process pushing to the stub LINE API (issue 10)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from bots.reminders import run_worker
from bots.settings import LineApi, Settings
from core.clock import JST, FixedClock
from core.inbound import ConversationKey
from core.remind.book import RedisReminderBook, Reminder
from core.remind.plan import end_of_day
from core.store import RedisSessionStore
from tests.integration.line_stub import ACCESS_TOKEN, LineStub, serve

ROOT = Path(__file__).resolve().parents[2]


def chat(*lines: str) -> list[dict[str, object]]:
    proc = cli(
        "chat", "--json", "--now", "2026-11-20T10:00", stdin="".join(f"{x}\n" for x in lines)
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(x) for x in proc.stdout.splitlines()]


def test_terminal_chat_offers_and_confirms_and_says_once_it_cannot_deliver() -> None:
    out = chat("初期契約解除", "2026-11-20", "リマインドする", "リマインド一覧")
    card = out[1]
    assert card["choices"][0]["label"] == "リマインドする"  # type: ignore[index]
    confirm = out[2]["texts"]
    assert confirm[0] == "11月26日(木) 9:00 と 11月27日(金) 9:00 にお知らせします。"  # type: ignore[index]
    assert "お知らせを送れません" in confirm[1]  # type: ignore[index]
    assert "11月27日(金) 9:00" in out[3]["texts"][0]  # type: ignore[index]


async def test_remind_worker_pushes_a_due_reminder_and_stops_on_signal(redis_url: str) -> None:
    stub = LineStub()
    store = RedisSessionStore(redis_url)
    key = ConversationKey("line", "-", "Uworker")
    # The worker's clock, not the wall's: at night (JST) a due reminder rightly waits for
    # the end of the quiet hours, and near midnight its deadline would pass.
    past_due = datetime(2026, 11, 20, 10, 0, tzinfo=JST)
    deadline = end_of_day(past_due.date())
    await RedisReminderBook(store.client).add(
        key, [Reminder("this_month", deadline, past_due)], past_due
    )
    try:
        async with serve(stub.app()) as stub_url:
            settings = Settings(redis_url=redis_url, line_api=LineApi(ACCESS_TOKEN, stub_url))
            stop = asyncio.Event()
            task = asyncio.create_task(run_worker(settings, FixedClock(past_due), stop, 0.05))
            for _ in range(200):
                if stub.delivered:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(task, 10)
        (push,) = stub.delivered
        assert push.method == "push" and push.target == "Uworker"
        assert "今月末での解約" in json.dumps(push.messages, ensure_ascii=False)
    finally:
        await store.close()


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
        timeout=120,
        check=False,
    )


def test_worker_and_its_old_name_refuse_to_run_without_redis() -> None:
    # `remind-worker` is what deployments made before the rename still run.
    for command in ("worker", "remind-worker"):
        proc = cli(command)
        assert proc.returncode == 2
        assert "worker needs REDIS_URL" in proc.stderr


def test_worker_interval_must_be_a_positive_number_of_seconds() -> None:
    for bad in ("0", "-1", "nan", "soon"):
        proc = cli("worker", "--interval", bad)
        assert proc.returncode == 2
        assert "not a positive number of seconds" in proc.stderr
    assert "--interval" in cli("worker", "--help").stdout


def test_worker_says_in_one_line_when_its_metrics_port_is_taken(redis_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "bots.cli", "worker", "--metrics-port", str(port)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={
                "PATH": "/usr/bin:/bin",
                "REDIS_URL": redis_url,
                "IIJBOT_METRICS_TOKEN": "worker-metrics-token-0123",
            },
            timeout=120,
            check=False,
        )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"iijmio-bot: cannot serve metrics on {port}:")
    assert "Traceback" not in proc.stderr
