"""The commands given bad input: a clear message and exit 2 at once, never a wait.

The commands run as processes, as a user runs them: ``tail`` against a real daemon's socket
(the demo: the daemon on simulated venues), ``subscribe`` against a real nats-server the
same demo publishes to, ``check``, ``run`` and ``demo`` on real files and directories.
Numeric options are checked by the parser (argparse's usage message, exit 2).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aggregator.cli import parser
from aggregator.shard import shard_of

from .nats_server import NatsServer, binary, remove
from .test_daemon import short_dir, spawn, wait_for

FAST = 10.0  # seconds within which a refused command must have ended (it used to wait forever)
DEMO_VENUES = {"binance", "coinbase", "coinbaseexchange", "kraken"}


def run(*args: str, cwd: Path | None = None, timeout: float = 30) -> tuple[int, str, str, float]:
    """``aggregator ARGS`` as a process: exit code, stdout, stderr and seconds taken."""
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "aggregator", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )
    return r.returncode, r.stdout, r.stderr, time.monotonic() - t0


def wait_until(cond: object, what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError(f"{what} not within {timeout:g} s")
        time.sleep(0.05)


def accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


@dataclass
class Demo:
    sock: Path
    nats: str
    log: Path


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """The demo daemon (binance, coinbase, coinbaseexchange, kraken, simulated), serving its
    socket and publishing to a nats-server of its own, for the whole module."""
    root = short_dir()
    srv = NatsServer(store=root / "nats")
    (root / "nats").mkdir()
    with open(srv.log_path, "ab") as log:
        nats = subprocess.Popen([binary(), *srv.args()], stdout=log, stderr=log)
    sock, log_path = root / "demo.sock", root / "demo.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "aggregator", "demo", "--rate", "50"),
                *("--socket", str(sock), "--data-dir", str(root / "demo"), "--nats", srv.url),
            ],
            cwd=root,
            stdout=log,
            stderr=log,
        )
    try:
        wait_until(lambda: accepts(srv.port), "nats-server")
        wait_until(sock.exists, f"the demo's socket\n{log_path.read_text()[-2000:]}")
        yield Demo(sock, srv.url, log_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        nats.kill()
        nats.wait()
        remove([srv])


def records(stdout: str) -> list[dict]:
    """Every line of a command's output, each of which must be a record."""
    out = [json.loads(line) for line in stdout.splitlines()]
    assert out and all(r["type"] in ("ticker", "status") for r in out), stdout[:2000]
    return out


# --- tail and subscribe: filters that can never match -------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-e", "nosuch"], "argument -e/--exchange: unknown exchange 'nosuch'"),
        (["-e", "kraken", "-e", "ftx"], "argument -e/--exchange: exchange 'ftx' is closed"),
        # an old id of a venue that trades (AscendEX's), not in this daemon
        (["-e", "bitmax"], "no exchange asked for runs in this daemon"),
        (["-s", "BTCUSDT"], "argument -s/--symbol: 'BTCUSDT' is not a unified symbol"),
        (["-s", "btc/usd"], "'btc/usd' is not a unified symbol; did you mean 'BTC/USD'?"),
        (["-t", "trade"], "argument -t/--type: invalid choice: 'trade'"),
        # a venue that trades, but not in this daemon: the daemon's notice ends it
        (["-e", "bitso"], "no exchange asked for runs in this daemon"),
    ],
)
def test_tail_with_a_filter_that_can_never_match_exits_2_at_once(
    demo: Demo, args: list[str], expected: str
) -> None:
    rc, out, err, took = run("tail", "--socket", str(demo.sock), *args, "-n", "1")
    assert rc == 2, err
    assert expected in err and "Traceback" not in err
    assert out == ""
    assert took < FAST


def test_tail_table_ends_when_nothing_asked_for_runs_in_the_daemon(demo: Demo) -> None:
    rc, _, err, took = run("tail", "--socket", str(demo.sock), "--table", "-e", "bitso")
    assert rc == 2, err
    assert "exchange 'bitso' does not run in this daemon" in err
    assert "no exchange asked for runs in this daemon" in err
    assert took < FAST


def test_tail_maps_an_old_id_with_a_notice_on_stderr(demo: Demo) -> None:
    rc, out, err, took = run("tail", "--socket", str(demo.sock), "-e", "coinbasepro", "-n", "5")
    assert rc == 0, err
    assert "exchange id 'coinbasepro' is now 'coinbaseexchange'" in err
    got = records(out)
    assert len(got) == 5 and {r["exchange"] for r in got} == {"coinbaseexchange"}
    assert took < FAST


def test_subscribe_with_a_filter_that_can_never_match_exits_2_at_once(demo: Demo) -> None:
    for args, expected in [
        (["-e", "nosuch"], "argument -e/--exchange: unknown exchange 'nosuch'"),
        (["-e", "ftx"], "exchange 'ftx' is closed"),
        (["-s", "BTC-USDT"], "argument -s/--symbol: 'BTC-USDT' is not a unified symbol"),
    ]:
        rc, out, err, took = run("subscribe", "--nats", demo.nats, *args, "-n", "1")
        assert rc == 2, (args, err)
        assert expected in err and out == ""
        assert took < FAST


def test_subscribe_maps_an_old_id_and_prints_only_records(demo: Demo) -> None:
    rc, out, err, took = run("subscribe", "--nats", demo.nats, "-e", "coinbasepro", "-n", "5")
    assert rc == 0, err
    assert "exchange id 'coinbasepro' is now 'coinbaseexchange'" in err
    got = records(out)
    assert len(got) == 5 and {r["exchange"] for r in got} == {"coinbaseexchange"}
    assert took < FAST


# --- tail: records only on standard output ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "n"), [([], 40), (["-e", "kraken", "-s", "XBT/USD"], 8), (["-t", "status"], 4)]
)
def test_tail_writes_only_records_to_stdout(demo: Demo, args: list[str], n: int) -> None:
    """`aggregator tail | jq` sees records: ack, snapshot_end and notices are not on stdout
    (a status filter: the snapshot holds one status record per venue)."""
    rc, out, err, _ = run("tail", "--socket", str(demo.sock), *args, "-n", str(n))
    assert rc == 0, err
    got = records(out)
    assert len(got) == n
    if "kraken" in args:  # XBT is BTC: mapped, with a notice
        assert {(r["exchange"], r.get("symbol")) for r in got} <= {
            ("kraken", "BTC/USD"),
            ("kraken", None),
        }
        assert "symbol 'XBT/USD' is 'BTC/USD'" in err


def test_tail_protocol_shows_the_protocol_lines(demo: Demo) -> None:
    """With --protocol, the daemon's lines as they come: the ack, the snapshot (kraken's
    BTC/USD ticker and its status), snapshot_end, then live records."""
    filter_ = ("-e", "kraken", "-s", "BTC/USD")
    rc, out, err, _ = run("tail", "--socket", str(demo.sock), *filter_, "--protocol", "-n", "5")
    assert rc == 0, err
    kinds = [json.loads(line)["type"] for line in out.splitlines()]
    assert kinds[0] == "ack" and kinds[3] == "snapshot_end", kinds
    assert sorted(kinds[1:3]) == ["status", "ticker"] and kinds[4:] == ["ticker"] * 3


# --- numeric options ------------------------------------------------------------------------

VALID_NATS = ["--nats", "nats://127.0.0.1:4222"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["tail", "-n", "0"], "-n/--count"),
        (["tail", "-n", "-3"], "-n/--count"),
        (["tail", "--stale", "0"], "--stale"),
        (["tail", "--stale", "nan"], "--stale"),
        (["tail", "--table", "--duration", "-1"], "--duration"),
        (["tail", "--table", "--duration", "inf"], "--duration"),
        (["tail", "--tcp", "127.0.0.1:0"], "--tcp"),
        (["tail", "--tcp", "127.0.0.1:65536"], "--tcp"),
        (["tail", "--tcp", "localhost"], "--tcp"),
        (["status", "--tcp", "127.0.0.1:99999"], "--tcp"),
        (["demo", "--rate", "0"], "--rate"),
        (["demo", "--rate", "inf"], "--rate"),
        (["demo", "--rate", "-5"], "--rate"),
        (["demo", "--duration", "0"], "--duration"),
        (["demo", "--duration", "nan"], "--duration"),
        (["demo", "--metrics", "127.0.0.1:0"], "--metrics"),
        (["demo", "--metrics", "127.0.0.1:70000"], "--metrics"),
        (["demo", "--nats", "nats://127.0.0.1:0"], "--nats"),
        (["subscribe", "--nats", "nats://127.0.0.1:65536"], "--nats"),
        (["subscribe", *VALID_NATS, "-n", "0"], "-n/--count"),
        (["subscribe", *VALID_NATS, "--replay", "0"], "--replay"),
        (["subscribe", *VALID_NATS, "--replay", "-2.5"], "--replay"),
        (["run", "-c", "x.toml", "--shard", "3/3"], "--shard"),
        (["run", "-c", "x.toml", "--shard", "1/0"], "--shard"),
    ],
)
def test_a_bad_number_exits_2_naming_the_option(
    args: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: expected" in err, err
    assert repr(args[-1]) in err  # the value given


def test_a_bad_number_as_a_process() -> None:
    rc, out, err, took = run("tail", "-n", "0")
    assert rc == 2 and out == ""
    assert err.startswith("usage: aggregator tail")
    assert "error: argument -n/--count: expected an integer > 0, got '0'" in err
    assert took < FAST


# --- check, run and demo: directories -------------------------------------------------------


def config_text(root: Path, exchanges: str) -> str:
    return (
        f"[daemon]\nstate_dir = '{root / 'new' / 'state'}'\n"
        f"[files]\ndir = '{root / 'new' / 'data'}'\n"
        f"[socket]\npath = '{root / 'run' / 'agg.sock'}'\n{exchanges}"
    )


def test_check_creates_no_directory(tmp_path: Path) -> None:
    root = short_dir()
    cfg = tmp_path / "a.toml"
    cfg.write_text(config_text(root, "[exchanges.kraken]\nsymbols = ['BTC/USD']\n"))
    rc, out, err, _ = run("check", str(cfg), cwd=tmp_path)
    assert rc == 0, err
    assert "venues: kraken (ws)" in out
    assert sorted(os.listdir(root)) == []  # neither new/ (state, data) nor run/
    # what cannot be created is still an error naming the key, and nothing is left
    (root / "file").write_text("x")
    cfg.write_text(f"[daemon]\nstate_dir = '{root / 'file' / 'state'}'\n")
    rc, _, err, _ = run("check", str(cfg), cwd=tmp_path)
    assert rc == 2
    assert "daemon.state_dir: cannot create directory" in err and "is not a directory" in err
    assert sorted(os.listdir(root)) == ["file"]


def test_demo_creates_no_parent_of_its_socket(tmp_path: Path) -> None:
    root = short_dir()
    sock = root / "new" / "deeper" / "demo.sock"
    rc, _, err, took = run(
        "demo", "--duration", "3", "--socket", str(sock), "--data-dir", str(root / "demo"),
        cwd=tmp_path,
    )  # fmt: skip
    assert rc == 2
    assert f"--socket: directory '{sock.parent}' does not exist" in err
    assert "Traceback" not in err
    assert os.listdir(root) == [] and os.listdir(tmp_path) == []  # not even its own dirs
    assert took < FAST


# --- no enabled venue ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exchanges", "warning"),
    [
        ("", "no venue in {cfg} (no [exchanges.<id>] table): the daemon will record nothing"),
        (
            "[exchanges.kraken]\nenabled = false\n[exchanges.binance]\nenabled = false\n",
            "every venue in {cfg} has enabled = false: the daemon will record nothing",
        ),
    ],
    ids=["no-exchanges", "all-disabled"],
)
async def test_no_enabled_venue_is_a_warning_at_check_and_at_start(
    tmp_path: Path, exchanges: str, warning: str
) -> None:
    root = short_dir()
    cfg = tmp_path / "a.toml"
    cfg.write_text(config_text(root, exchanges))
    warning = warning.format(cfg=cfg)
    rc, _, err, _ = run("check", str(cfg), cwd=tmp_path)
    assert rc == 0, err
    assert f"warning: {warning}" in err
    daemon = await spawn("run", "-c", str(cfg), cwd=tmp_path)
    try:
        await wait_for((root / "run" / "agg.sock").exists)  # the directories made at start
        assert (root / "new" / "state").is_dir() and (root / "new" / "data").is_dir()
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        assert await daemon.wait() == 0, daemon.log()
    assert f"WARNING {warning}" in daemon.log() or warning in daemon.log(), daemon.log()


async def test_a_shard_with_no_venue_is_a_warning_at_start(tmp_path: Path) -> None:
    root = short_dir()
    cfg = tmp_path / "a.toml"
    # never connected to: the shard leaves it out
    cfg.write_text(config_text(root, "[exchanges.kraken]\nws_url = 'ws://127.0.0.1:9'\n"))
    other = (shard_of("kraken", 2) + 1) % 2
    daemon = await spawn("run", "-c", str(cfg), "--shard", f"{other}/2", cwd=tmp_path)
    try:
        await wait_for((root / "run" / "agg.sock").exists)
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        assert await daemon.wait() == 0, daemon.log()
    assert f"--shard {other}/2 selects no enabled venue of {cfg}" in daemon.log()
