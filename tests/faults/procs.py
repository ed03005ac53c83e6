"""Real processes for the fault suite: private redis-servers (single or a three-node
Cluster) on free loopback ports in a temp dir, and `iijmio-bot serve` as a subprocess.

Every wait here has a bound (a broken build fails, it never hangs CI); none is a timing
the tests assert. The machine's own Redis on 6379 is never touched.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import redis

from bots.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[2]
START_BOUND = 60.0  # seconds for a process to come up on a busy 2-core machine


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A free loopback port, picked by the kernel."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# A Cluster node also listens on port + 10000 (its bus). Both must lie below the kernel's
# ephemeral range (32768 and up here), or an outgoing connection of any process may take
# the bus port between our check and redis-server's bind.
CLUSTER_PORTS = range(12000, 22000)


def free_cluster_port() -> int:
    """A port whose cluster bus port (port + 10000) is free too, both outside the range
    the kernel hands out for outgoing connections."""
    for _ in range(200):
        port = random.choice(CLUSTER_PORTS)
        if _bindable(port) and _bindable(port + 10000):
            return port
    pytest.fail("no free port pair for a cluster node")


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:  # pragma: no cover - environment problem (.ci/run installs it)
        pytest.fail(f"{name} is not on PATH (Debian package redis-server)")
    return found


def wait_until(check: object, what: str, bound: float = START_BOUND) -> None:
    """Poll check() (a callable returning truthy) until it holds, or fail after bound s."""
    assert callable(check)
    deadline = time.monotonic() + bound
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {bound:.0f} s")
        time.sleep(0.05)


def _killed(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL a process still running and reap it; what a killed process slot holds."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    return None


def _bot(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`iijmio-bot <args>` with only the variables the test sets (none of ours inherited)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    full_env.update(env)
    # The log goes to a file: a pipe nobody reads would fill and stall the process.
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bots", *args], cwd=ROOT, env=full_env, stdout=log, stderr=log
        )


class RedisServer:
    """A redis-server of our own. With aof=True every write is fsynced before Redis
    answers it, so a killed server restarts with every commit it acknowledged."""

    def __init__(self, workdir: Path, *, aof: bool = False, cluster: bool = False) -> None:
        self.port = free_cluster_port() if cluster else free_port()
        self.dir = workdir / f"redis-{self.port}"
        self.dir.mkdir(parents=True)
        self.aof = aof
        self.cluster = cluster
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=5)

    def start(self) -> None:
        args = [
            _binary("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.aof else "no",
            "--appendfsync",
            "always",
        ]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            args += ["--cluster-node-timeout", "5000"]
        log = (self.dir / "redis.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        log.close()
        client = self.client()
        try:
            wait_until(lambda: self._answers(client), f"redis-server on {self.port}")
        finally:
            client.close()

    def _answers(self, client: redis.Redis) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"redis-server on {self.port} exited: {self.log_tail()}")
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.BusyLoadingError):
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final write, as when the host or the pod dies."""
        self.proc = _killed(self.proc)

    def log_tail(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


class RedisCluster:
    """Three masters, no replicas, slots spread by `redis-cli --cluster create`."""

    def __init__(self, workdir: Path, size: int = 3, *, aof: bool = False) -> None:
        self.nodes = [RedisServer(workdir, cluster=True, aof=aof) for _ in range(size)]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(n.address for n in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        created = subprocess.run(
            [
                _binary("redis-cli"),
                "--cluster",
                "create",
                *(n.address for n in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=START_BOUND,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        self.wait_healthy()

    def wait_healthy(self) -> None:
        """Until every node says the cluster is ok (all slots served)."""
        clients = [n.client() for n in self.nodes]

        def ok() -> bool:
            try:
                return all(c.cluster("info")["cluster_state"] == "ok" for c in clients)
            except redis.ConnectionError:
                return False

        try:
            wait_until(ok, "the cluster to agree on its slots")
        finally:
            for c in clients:
                c.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


class BotProcess:
    """`iijmio-bot serve` as its own process, with only the variables the test sets."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str = "bot") -> None:
        self.port = free_port()
        self.env = env
        self.log_path = workdir / f"{name}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = _bot(cmd, self.env, self.log_path)
        wait_until(self._healthy, f"iijmio-bot serve on {self.port}")

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"serve exited with {self.proc.returncode}: {self.log_tail()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=START_BOUND)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def log_tail(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-3000:]


class WorkerProcess:
    """`iijmio-bot worker` as its own process, with only the variables the test sets.

    It serves no HTTP, so it counts as up once it logs that its loop started (LOG_LEVEL
    INFO in env); its first round follows at once, then one every `interval` seconds.
    """

    STARTED = "reminder worker started"

    def __init__(
        self,
        env: dict[str, str],
        workdir: Path,
        name: str = "worker",
        interval: float = 0.2,
        *,
        metrics: bool = False,
        now: datetime | None = None,
    ) -> None:
        """now: the worker's clock starts there (`--now`), so a test does not depend on
        the hour it runs at (the quiet hours hold reminders back at night)."""
        self.env = env
        self.now = now
        self.interval = interval
        self.metrics_port = free_port() if metrics else None
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = ["worker", "--interval", str(self.interval)]
        if self.metrics_port is not None:
            cmd += ["--metrics-port", str(self.metrics_port)]
        if self.now is not None:
            cmd += ["--now", self.now.isoformat()]
        self.proc = _bot(cmd, self.env, self.log_path)
        wait_until(self._started, f"iijmio-bot worker ({self.log_path.name})")

    def _started(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"worker exited with {self.proc.returncode}: {self.log_tail()}")
        return self.STARTED in self.log_tail(None)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing finished or released, as when the pod dies."""
        self.proc = _killed(self.proc)

    def stop(self) -> int:
        """SIGTERM, as `docker stop` or Kubernetes sends; the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=START_BOUND)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        code = self.proc.returncode
        self.proc = None
        return code

    def log_tail(self, size: int | None = 3000) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return text if size is None else text[-size:]
