"""The `aggregator` command: run, check, exchanges, demo, tail, normalize."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import AggregatorError, ConfigError

log = logging.getLogger("aggregator")


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):  # journald adds its own timestamps
        fmt = "%(levelname)s %(name)s: %(message)s"
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("aiohttp").setLevel(logging.WARNING)


def run_loop(coro: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop where available."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.run(coro)
    return uvloop.run(coro)


# --- commands ---------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from .app import Daemon
    from .config import load

    config = load(args.config)
    setup_logging(args.log_level or config.daemon.log_level)

    async def main() -> int:
        return await Daemon(config).run()

    return run_loop(main())


def cmd_check(args: argparse.Namespace) -> int:
    from .config import load

    config = load(args.config)
    for w in config.warnings:
        print(f"warning: {w}", file=sys.stderr)
    venues = ", ".join(f"{e.venue} ({e.mode})" for e in config.exchanges) or "none"
    print(f"{args.config}: ok; venues: {venues}")
    return 0


def cmd_exchanges(args: argparse.Namespace) -> int:
    from . import venues
    from .adapters import registry

    rows = []
    for v in venues.VENUES:
        modes = registry.modes(v)
        what = f"adapter: {'+'.join(modes)}" if modes else "no adapter yet"
        rows.append((v, "trading", what))
    for old, new in venues.ALIASES.items():
        rows.append((old, "old id", f"now {new}"))
    for old, why in sorted(venues.CLOSED.items()):
        rows.append((old, "closed", why))
    if args.status:
        rows = [r for r in rows if r[1].startswith(args.status)]
    width = max(len(r[0]) for r in rows)
    print(f"{'id':<{width}}  {'status':<8}  detail")
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:<8}  {r[2]}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    setup_logging(args.log_level)
    return run_loop(run_demo(args))


def cmd_tail(args: argparse.Namespace) -> int:
    from .client import tail

    path = None if args.tcp else str(args.socket or default_socket())
    return run_loop(
        tail(path, args.tcp, args.exchange, args.symbol, args.type, args.count, sys.stdout)
    )


def default_socket() -> Path:
    """The daemon's socket: its default path here, else the systemd unit's."""
    from .config import SocketConfig

    candidates = [SocketConfig().path, Path("/run/aggregator/aggregator.sock")]
    return next((p for p in candidates if p.exists()), candidates[0])


def cmd_normalize(args: argparse.Namespace) -> int:
    from .normalize import normalize

    return normalize(args.exchange, "ws" if args.ws else "rest", args.symbol, args.state_dir)


# --- parser -----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aggregator", description="Crypto market-data aggregator daemon."
    )
    p.add_argument("--version", action="version", version=f"aggregator {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run the daemon")
    r.add_argument("-c", "--config", required=True, help="TOML config file")
    r.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("check", help="validate a config file")
    c.add_argument("config", nargs="?", help="TOML config file")
    c.add_argument("-c", "--config", dest="config_opt", help="TOML config file")
    c.set_defaults(func=cmd_check)

    e = sub.add_parser("exchanges", help="list venues, old ids and closed ids")
    e.add_argument("--status", choices=["trading", "old", "closed"], help="only these")
    e.set_defaults(func=cmd_exchanges)

    d = sub.add_parser("demo", help="run the daemon on simulated local venues (offline)")
    d.add_argument("-c", "--config", help="demo config (default: config/demo.toml or built-in)")
    d.add_argument("--duration", type=float, default=0, help="seconds to run (0: until Ctrl-C)")
    d.add_argument("--data-dir", type=Path, default=Path("demo-data"), help="where files go")
    d.add_argument("--socket", type=Path, help="Unix socket path (default: ./run/aggregator.sock)")
    d.add_argument("--rate", type=float, default=200.0, help="price updates/s per venue")
    d.add_argument("--all", action="store_true", help="every venue with a simulated stream")
    d.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("tail", help="print records from a running daemon's socket")
    t.add_argument("--socket", type=Path, help="Unix socket (default: the daemon's default)")
    t.add_argument("--tcp", help="connect to HOST:PORT instead")
    t.add_argument("-e", "--exchange", action="append", default=[], help="only this venue")
    t.add_argument("-s", "--symbol", action="append", default=[], help="only this symbol")
    t.add_argument("-t", "--type", action="append", default=[], choices=["ticker", "status"])
    t.add_argument("-n", "--count", type=int, help="stop after this many records")
    t.set_defaults(func=cmd_tail)

    n = sub.add_parser("normalize", help="normalise raw venue payloads from stdin (offline)")
    n.add_argument("exchange")
    mode = n.add_mutually_exclusive_group(required=True)
    mode.add_argument("--ws", action="store_true", help="stdin holds WebSocket frames")
    mode.add_argument("--rest", action="store_true", help="stdin holds REST responses")
    n.add_argument("--symbol", help="the unified symbol of every payload (no market lookup)")
    n.add_argument("--state-dir", type=Path, help="where the daemon caches markets")
    n.set_defaults(func=cmd_normalize)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "check":
        args.config = args.config_opt or args.config
        if not args.config:
            parser().error("check: a config file is required")
    if args.command not in ("run", "demo"):
        setup_logging("warning")
    try:
        return int(args.func(args))
    except ConfigError as e:
        print(f"aggregator: config error: {e}", file=sys.stderr)
        return e.exit_code
    except AggregatorError as e:
        print(f"aggregator: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `aggregator exchanges | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
