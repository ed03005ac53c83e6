"""`iijmio-bot serve` under HTTP load, side by side with the floors of bench/floors.py.

For each process count (1 and 2) and each target (floor a, b, c, then the real server) it
starts the target on loopback, drives it with wrk at 1, 16 and 64 connections over
pre-signed LINE webhook bodies, and prints per row: turns/s, p50/p95/p99, Redis commands
and round trips per turn, bytes per session, the replies the stub counted, and the ratios
to floor c of the same process count in the same run.

    .venv/bin/python bench/http_bench.py                      # 5 s per row, 1 and 2 procs
    .venv/bin/python bench/http_bench.py --seconds 3 --procs 1 --conns 64
    .venv/bin/python bench/http_bench.py --profile /tmp/serve.txt   # py-spy the server row

Load: ≥ 200 distinct inputs, half typed texts (tests/data/nlu_*.yaml), half button taps
(postback data of every button the shipped flow renders, and date-picker answers), spread
over many users; every body is a new event (fresh webhookEventId, reply token and a
timestamp taken just before its row), so every turn does all its work.

Everything runs on 127.0.0.1: its own redis-server on a free port (so INFO commandstats
counts only this benchmark), the stub API of bench/stub_api.py, the target. Needs wrk
(`apt-get install -y wrk`) and redis-server. Nothing here is run by CI.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-channel-secret-0123456789ab"
TOKEN = "bench-access-token"
USERS = 1000
# Bodies per second and process: more than each target answers, so wrk never runs dry.
BODIES_PER_SECOND = {"a": 20000, "b": 9000, "c": 9000, "serve": 9000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@contextlib.contextmanager
def running(
    cmd: list[str], port: int, env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, cwd=ROOT, stdout=out, stderr=out
    )
    try:
        wait_port(port, proc)
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT, not SIGTERM
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


# --- the load ---------------------------------------------------------------------------


def typed_texts(n: int) -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "tests" / "data").glob("nlu_*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc.get("cases", []) if isinstance(doc, dict) else []:
            t = case.get("text") if isinstance(case, dict) else None
            if isinstance(t, str) and t.strip() and t not in texts:
                texts.append(t)
    random.Random(7).shuffle(texts)
    return texts[:n]


def postbacks(n: int) -> list[dict[str, Any]]:
    from adapters.line.render import render_reply
    from tests.flow_walk import reachable_replies

    seen: dict[str, dict[str, Any]] = {}
    for reply in reachable_replies():
        for m in render_reply(reply):
            for item in (m.get("quickReply") or {}).get("items", []):
                a = item["action"]
                if a["type"] == "postback":
                    seen.setdefault(a["data"], {"data": a["data"]})
                elif a["type"] == "datetimepicker":
                    for day in ("2026-01-05", "2026-03-31", "2026-06-20", "2026-11-30"):
                        pb = {"data": a["data"], "params": {"date": day}}
                        seen.setdefault(a["data"] + day, pb)
    out = list(seen.values())
    random.Random(8).shuffle(out)
    return out[:n]


@dataclass
class Load:
    texts: list[str]
    taps: list[dict[str, Any]]

    @classmethod
    def build(cls) -> Load:
        taps = postbacks(150)
        texts = typed_texts(len(taps))
        assert len(texts) + len(taps) >= 200 and len(texts) >= 100 and len(taps) >= 100
        return cls(texts, taps)

    def write(self, path: Path, count: int, tag: str) -> None:
        """`count` signed bodies, one event each, timestamps of now."""
        now = int(time.time() * 1000)
        secret = SECRET.encode()
        with path.open("w", encoding="utf-8") as f:
            for i in range(count):
                user = f"U{tag}{i % USERS:05d}"
                ev: dict[str, Any] = {
                    "mode": "active",
                    "timestamp": now,
                    "source": {"type": "user", "userId": user},
                    "webhookEventId": f"01B{tag}{uuid.uuid4().hex[:20].upper()}",
                    "deliveryContext": {"isRedelivery": False},
                    "replyToken": uuid.uuid4().hex,
                }
                if i % 2 == 0:
                    text = self.texts[(i // 2) % len(self.texts)]
                    ev["type"] = "message"
                    ev["message"] = {"type": "text", "id": str(i), "text": text}
                else:
                    ev["type"] = "postback"
                    ev["postback"] = self.taps[(i // 2) % len(self.taps)]
                body = json.dumps(
                    {"destination": "Ubench", "events": [ev]},
                    ensure_ascii=False,
                    separators=(",", ":"),
                ).encode()
                sig = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
                f.write(sig + "\t" + body.decode() + "\n")


# --- measuring --------------------------------------------------------------------------


def redis_cli(port: int, *args: str) -> str:
    out = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True
    )
    return out.stdout


def command_stats(port: int) -> tuple[int, int]:
    """(all commands, commands sent by clients): Redis counts the commands a script runs
    in commandstats, so round trips are taken from the script calls and plain commands."""
    total = scripted = 0
    for line in redis_cli(port, "INFO", "commandstats").splitlines():
        if not line.startswith("cmdstat_"):
            continue
        name, _, rest = line.partition(":")
        calls = int(rest.split(",")[0].split("=")[1])
        name = name.removeprefix("cmdstat_")
        if name in ("info", "config", "flushall", "scan", "memory", "ping", "client", "hello"):
            continue
        total += calls
        if name in ("evalsha", "eval", "evalsha_ro", "eval_ro", "fcall"):
            scripted += calls
    return total, scripted


def bytes_per_session(port: int) -> float:
    keys = redis_cli(port, "--scan", "--pattern", "*:session").split()
    sample = keys[:300]
    if not sample:
        return 0.0
    sizes = [int(redis_cli(port, "MEMORY", "USAGE", k).strip() or 0) for k in sample]
    return sum(sizes) / len(sizes)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants, from /proc."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError, ValueError):
        return total
    return total + sum(cpu_seconds(int(c)) for c in children)


def stub_stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=5) as r:
        stats: dict[str, Any] = json.loads(r.read())
    return stats


def stub_reset(port: int) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_reset", method="POST", data=b"")
    urllib.request.urlopen(req, timeout=5).close()


def wrk(port: int, conns: int, seconds: float, bodies: Path) -> dict[str, Any]:
    threads = min(conns, 2)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{conns}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench" / "webhook.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env={**os.environ, "BENCH_BODIES": str(bodies), "BENCH_THREADS": str(threads)},
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("BENCH "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    return result


@dataclass
class Row:
    procs: int
    target: str
    conns: int
    turns: float
    p50: float
    p95: float
    p99: float
    cmds: float
    trips: float
    cpu_ms: float  # CPU the target's processes spent per turn (the stub's and wrk's not)
    session_bytes: float
    events: int
    replied: int
    twice: int
    pushes: int
    non200: int


def settle(stub_port: int, expected: int, timeout: float = 15.0) -> dict[str, Any]:
    """Replies leave after the 200: wait until the stub has them all (or stops counting)."""
    deadline = time.monotonic() + timeout
    last = -1
    stats = stub_stats(stub_port)
    while time.monotonic() < deadline:
        stats = stub_stats(stub_port)
        got = int(stats["distinct_reply_tokens"]) + int(stats["distinct_push_keys"])
        if got >= expected or got == last:
            break
        last = got
        time.sleep(0.5)
    return stats


def measure(
    target: str,
    procs: int,
    port: int,
    redis_port: int,
    stub_port: int,
    conns: int,
    seconds: float,
    load: Load,
    work: Path,
    pid: int,
) -> Row:
    bodies = work / "bodies.txt"
    tag = f"{target[0]}{procs}{conns:02d}"
    # One connection waits for each answer: a few thousand a second at most.
    rate = BODIES_PER_SECOND[target] * procs if conns > 1 else 8000
    count = max(200, int(rate * seconds))
    redis_cli(redis_port, "FLUSHALL")
    load.write(bodies, count, tag)  # timestamps of now: just before the run
    redis_cli(redis_port, "CONFIG", "RESETSTAT")
    stub_reset(stub_port)
    cpu_before = cpu_seconds(pid)
    res = wrk(port, conns, seconds, bodies)
    events = int(res["distinct"]) - int(res["non200"])
    stats = settle(stub_port, events) if target != "a" and target != "b" else stub_stats(stub_port)
    cpu = cpu_seconds(pid) - cpu_before
    cmds, scripts = command_stats(redis_port)
    turns = max(events, 1)
    return Row(
        procs=procs,
        target=target,
        conns=conns,
        turns=res["requests"] / (res["duration_us"] / 1e6),
        p50=res["p50"] / 1000,
        p95=res["p95"] / 1000,
        p99=res["p99"] / 1000,
        cmds=cmds / turns,
        trips=scripts / turns,
        cpu_ms=1000 * cpu / turns,
        session_bytes=bytes_per_session(redis_port),
        events=events,
        replied=int(stats["distinct_reply_tokens"]),
        twice=int(stats["tokens_used_twice"]),
        pushes=int(stats["pushes"]),
        non200=int(res["non200"]) + int(res["errors"]) + int(res["timeouts"]),
    )


def target_cmd(target: str, procs: int, port: int, profile: str | None) -> list[str]:
    py = sys.executable
    if target == "serve":
        cmd = [str(Path(py).parent / "iijmio-bot"), "serve", "--port", str(port)]
        if procs > 1:
            cmd += ["--workers", str(procs)]
    else:
        cmd = [py, "-m", "uvicorn", "bench.floors:create", "--factory", "--port", str(port)]
        cmd += ["--workers", str(procs), "--no-access-log", "--log-level", "warning"]
    if profile:
        spy = shutil.which("py-spy") or str(Path(py).parent / "py-spy")
        out = profile if target == "serve" else f"{profile}.floor-{target}"
        spy_args = ["record", "--format", "raw", "--rate", "250", "-o", out, "--subprocesses"]
        cmd = [spy, *spy_args, "--", *cmd]
    return cmd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per row (default 5)")
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--conns", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--targets", nargs="+", default=["a", "b", "c", "serve"])
    parser.add_argument(
        "--profile", help="py-spy raw profile of the server (floors: FILE.floor-X) to FILE"
    )
    args = parser.parse_args()
    for tool in ("wrk", "redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            print(f"http_bench: {tool} is not installed", file=sys.stderr)
            return 2

    load = Load.build()
    print(
        f"load: {len(load.texts)} typed texts + {len(load.taps)} button taps, {USERS} users, "
        f"{args.seconds:g} s per row",
        flush=True,
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="iijbot-bench-") as tmp:
        work = Path(tmp)
        redis_port, stub_port = free_port(), free_port()
        redis = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"]
        redis += ["--save", "", "--appendonly", "no", "--dir", tmp]
        stub = [sys.executable, str(ROOT / "bench" / "stub_api.py"), "--port", str(stub_port)]
        with running(redis, redis_port), running(stub, stub_port):
            env = {
                "BENCH_FLOOR": "",
                "LINE_CHANNEL_SECRET": SECRET,
                "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
                "LINE_API_BASE_URL": f"http://127.0.0.1:{stub_port}",
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "PYTHONPATH": str(ROOT),
                # The load sends several messages a second per user, which flood control
                # would slow down; the reminder worker's polling would blur the Redis
                # commands counted per turn. Both are off here, on in production.
                "IIJBOT_FLOOD_BURST": "0",
                "IIJBOT_REMINDER_WORKER": "0",
            }
            for key in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN"):
                env[key] = ""
            for procs in args.procs:
                for target in args.targets:
                    port = free_port()
                    cmd = target_cmd(target, procs, port, args.profile)
                    with running(cmd, port, {**env, "BENCH_FLOOR": target}, work / "log") as proc:
                        time.sleep(0.5 * procs)  # every worker has bound and started
                        warm = measure(
                            target, procs, port, redis_port, stub_port, 16, 1, load, work, proc.pid
                        )
                        del warm
                        for conns in args.conns:
                            row = measure(
                                target,
                                procs,
                                port,
                                redis_port,
                                stub_port,
                                conns,
                                args.seconds,
                                load,
                                work,
                                proc.pid,
                            )
                            rows.append(row)
                            print_row(row, rows)
    return 0


HEADER = (
    f"{'procs':>5} {'target':<7} {'conns':>5} {'turns/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
    f"{'p99 ms':>7} {'cpu ms':>6} {'cmd/turn':>8} {'rt/turn':>7} {'B/sess':>6} {'events':>6} "
    f"{'replied':>7} {'twice':>5} {'push':>4} {'err':>4} {'×c tps':>6} {'×c p99':>6}"
)


def print_row(row: Row, rows: list[Row]) -> None:
    if len(rows) == 1:
        print(HEADER, flush=True)
    floor = next(
        (r for r in rows if r.target == "c" and r.procs == row.procs and r.conns == row.conns),
        None,
    )
    ratio_t = f"{row.turns / floor.turns:6.2f}" if floor else f"{'-':>6}"
    ratio_p = f"{row.p99 / floor.p99:6.2f}" if floor and floor.p99 else f"{'-':>6}"
    print(
        f"{row.procs:>5} {row.target:<7} {row.conns:>5} {row.turns:>8.0f} {row.p50:>7.1f} "
        f"{row.p95:>7.1f} {row.p99:>7.1f} {row.cpu_ms:>6.2f} {row.cmds:>8.2f} {row.trips:>7.2f} "
        f"{row.session_bytes:>6.0f} {row.events:>6} {row.replied:>7} {row.twice:>5} "
        f"{row.pushes:>4} {row.non200:>4} {ratio_t} {ratio_p}",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
