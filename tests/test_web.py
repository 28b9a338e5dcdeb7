"""The live page in a real headless Chromium, driven over the DevTools protocol, against the
demo as a process: it loads, shows venues and consolidated prices that move, and comes back
by itself after the daemon restarts. With AGGREGATOR_SCREENSHOTS=1 it writes docs/web.png
(after letting the chart fill for a while)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import itertools
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .ports import free_port
from .test_daemon import Proc, short_dir, spawn

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DOCS = Path(__file__).resolve().parent.parent / "docs"
SCREENSHOTS = bool(os.environ.get("AGGREGATOR_SCREENSHOTS"))

REQUIRED = bool(os.environ.get("AGGREGATOR_BROWSER_REQUIRED"))  # set by .ci/run

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not REQUIRED,
    reason="no chromium binary (apt-get install chromium; .ci/run installs it)",
)

# What the test reads of the page: its own counters and what a person sees in the tables.
READ = """JSON.stringify({
  link: aggregatorPage.link,
  connects: aggregatorPage.connects,
  states: aggregatorPage.states,
  books: [...document.querySelectorAll('#books tbody tr')].map(r => r.innerText),
  venues: [...document.querySelectorAll('#venues tbody tr')].map(r => r.innerText),
  quotes: document.querySelectorAll('#quotes tbody tr').length,
  symbol: document.getElementById('quotes-symbol').textContent,
})"""


class Tab:
    """One page of the browser, over its DevTools WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        n = next(self.ids)
        await self.ws.send_json({"id": n, "method": method, "params": params})
        async with asyncio.timeout(10):
            while True:  # events and other answers are skipped
                msg = await self.ws.receive_json()
                if msg.get("id") == n:
                    assert "error" not in msg, msg
                    return dict(msg["result"])

    async def read(self) -> dict[str, Any]:
        got = await self.call("Runtime.evaluate", expression=READ, returnByValue=True)
        value = got["result"].get("value")
        return dict(json.loads(value)) if isinstance(value, str) else {}

    async def until(self, check: Any, timeout: float, what: str) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        try:
            async with asyncio.timeout(timeout):
                while True:
                    with contextlib.suppress(KeyError, TypeError):  # before the script ran
                        seen = await self.read()
                        if check(seen):
                            return seen
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"the page never showed {what}; last seen: {seen}") from None


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Tab]:
    assert CHROMIUM is not None, "no chromium binary, and AGGREGATOR_BROWSER_REQUIRED is set"
    profile = tempfile.mkdtemp(prefix="agg-chromium-")
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",  # (tests may run as root, where the sandbox refuses to start)
        "--disable-gpu",
        "--no-first-run",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        async with asyncio.timeout(15):
            while m := await proc.stderr.readline():
                found = re.search(rb"DevTools listening on ws://([\d.]+:\d+)/", m)
                if found:
                    break
            else:
                raise AssertionError("chromium exited before it listened")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://{found[1].decode()}/json/list") as r:
                targets = await r.json()
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            async with http.ws_connect(url, max_msg_size=0) as ws:
                yield Tab(ws)
    finally:
        proc.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


async def demo(root: Path, port: int, n: int) -> Proc:
    return await spawn(
        "demo",
        "--duration",
        "120" if SCREENSHOTS else "40",
        "--web",
        f"127.0.0.1:{port}",
        "--rate",
        "50",
        "--data-dir",
        str(root / f"demo{n}"),
        "--socket",
        str(root / f"demo{n}.sock"),
        "--log-level",
        "warning",
        cwd=root,
    )


async def served(port: int) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(20):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/static/app.js") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.05)


def _read(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def priced(page: dict[str, Any]) -> bool:
    """Connected, every venue live, and the consolidated books with prices on both sides."""
    books = page["books"]
    return (
        page["link"] == "up"
        and len(page["venues"]) == 4
        and all("\tlive\t" in v for v in page["venues"])
        and len(books) >= 10
        and all(re.search(r"\t\d+\.?\d*\t.*\t\d+\.?\d*\t", b) for b in books)
        and page["quotes"] >= 1
    )


@pytest.mark.timeout(200 if SCREENSHOTS else 60)
async def test_the_page_shows_moving_prices_and_comes_back_after_a_restart() -> None:
    root = short_dir()
    port = free_port()
    first = await demo(root, port, 1)
    second: Proc | None = None
    try:
        async with browser() as tab:
            await served(port)
            await tab.call("Page.navigate", url=f"http://127.0.0.1:{port}/")
            page = await tab.until(priced, 20, "live venues and consolidated prices")
            assert page["symbol"] == "BTC/USD"  # the book with the most venues first
            assert page["books"][0].startswith("BTC/USD\t")  # (three venues in the demo)
            await tab.until(lambda p: p["books"] != page["books"], 10, "prices that move")
            async with aiohttp.ClientSession() as http:  # another site's page may not read it
                with pytest.raises(aiohttp.WSServerHandshakeError, match="403"):
                    await http.ws_connect(
                        f"http://127.0.0.1:{port}/feed",
                        headers={"Origin": "http://elsewhere.example"},
                    )
            # a subscriber of the socket can take the bbo records alone
            tail = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "aggregator", "tail", "--socket", str(root / "demo1.sock"),
                "-t", "bbo", "-n", "3", stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            async with asyncio.timeout(15):
                out, _ = await tail.communicate()
            assert tail.returncode == 0
            lines = [json.loads(x) for x in out.splitlines()]
            assert len(lines) == 3 and {x["type"] for x in lines} == {"bbo"}, lines
            assert {x["exchange"] for x in lines} == {"consolidated"}
            if SCREENSHOTS:  # a chart with some minutes of history for the README
                await asyncio.sleep(75)
                shot = await tab.call("Page.captureScreenshot", format="png")
                (DOCS / "web.png").write_bytes(base64.b64decode(shot["data"]))

            first.proc.send_signal(signal.SIGTERM)
            assert await first.wait(20) == 0, first.log()
            written = [
                json.loads(line)
                for f in (root / "demo1" / "data" / "consolidated").glob("*.jsonl*")
                for line in _read(f).splitlines()
            ]
            assert written and {x["type"] for x in written} == {"bbo"}  # and to the files
            await tab.until(lambda p: p["link"] == "down", 10, "that the daemon went away")
            second = await demo(root, port, 2)
            again = await tab.until(
                lambda p: p["connects"] == 2 and priced(p), 25, "the restarted daemon's prices"
            )
            assert again["states"] > page["states"]
    finally:
        for proc in (first, second):
            if proc is not None and proc.proc.returncode is None:
                proc.proc.send_signal(signal.SIGTERM)
                await proc.wait(20)
