"""The `aggregator` command: run, check, exchanges, demo, tail, status, subscribe, normalize."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import AggregatorError, ConfigError
from .logs import FORMATS, setup_logging

log = logging.getLogger("aggregator")


def _loopback(value: str) -> str:
    """An argparse type: "127.0.0.1:PORT" (or localhost, ::1), like the config's listen keys."""
    from .config import is_loopback

    if not is_loopback(value):
        raise argparse.ArgumentTypeError(f"expected 127.0.0.1:PORT (loopback only), got {value!r}")
    return value


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
    from .shard import select

    config = select(load(args.config), args.shard or "", args.exchanges)
    setup_logging(
        args.log_level or config.daemon.log_level, args.log_format or config.daemon.log_format
    )

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

    setup_logging(args.log_level, args.log_format)
    return run_loop(run_demo(args))


def cmd_tail(args: argparse.Namespace) -> int:
    from .client import tail

    path = None if args.tcp else str(args.socket or default_socket())
    if args.table:
        from .live import live_table

        table = live_table(
            path, args.tcp, args.exchange, args.symbol, args.count, args.duration, args.stale
        )
        return run_loop(table)
    return run_loop(
        tail(path, args.tcp, args.exchange, args.symbol, args.type, args.count, sys.stdout)
    )


def cmd_status(args: argparse.Namespace) -> int:
    from .status import status

    path = None if args.tcp else str(args.socket or default_socket())
    return run_loop(status(path, args.tcp, args.json, sys.stdout))


def cmd_subscribe(args: argparse.Namespace) -> int:
    from .subscribe import subscribe

    servers = [u.strip() for u in ",".join(args.nats).split(",") if u.strip()]
    return run_loop(
        subscribe(
            servers,
            args.subject_prefix,
            args.exchange,
            args.symbol,
            args.type,
            args.count,
            sys.stdout,
            replay=args.replay,
            stream=args.stream,
        )
    )


def _names(value: str) -> list[str]:
    """An argparse type: "a,b" to ["a", "b"]."""
    names = [x.strip() for x in value.split(",") if x.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected names separated by commas")
    return names


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
    r.add_argument("--log-format", choices=FORMATS, help="text (default) or json lines")
    scope = r.add_mutually_exclusive_group()
    scope.add_argument(
        "--shard", metavar="I/N", help="run the venues with crc32(venue) %% N == I (0 <= I < N)"
    )
    scope.add_argument(
        "--exchanges", type=_names, default=[], metavar="A,B", help="run only these venues"
    )
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
    d.add_argument("--log-format", default="text", choices=FORMATS, help="text or json lines")
    d.add_argument(
        "--metrics",
        type=_loopback,
        metavar="HOST:PORT",
        help="serve /metrics and /health there (loopback only, e.g. 127.0.0.1:9464)",
    )
    d.add_argument("--nats", metavar="URL", help="also publish to this NATS server (nats://...)")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("tail", help="print records from a running daemon's socket")
    t.add_argument("--socket", type=Path, help="Unix socket (default: the daemon's default)")
    t.add_argument("--tcp", help="connect to HOST:PORT instead")
    t.add_argument("-e", "--exchange", action="append", default=[], help="only this venue")
    t.add_argument("-s", "--symbol", action="append", default=[], help="only this symbol")
    t.add_argument("-t", "--type", action="append", default=[], choices=["ticker", "status"])
    t.add_argument("-n", "--count", type=int, help="stop after this many records")
    t.add_argument("--table", action="store_true", help="a live table of the latest values")
    t.add_argument("--duration", type=float, help="with --table: stop after this many seconds")
    t.add_argument(
        "--stale", type=float, default=10.0, help="with --table: dim values older than this (s)"
    )
    t.set_defaults(func=cmd_tail)

    s = sub.add_parser("status", help="every venue's state, from the running daemon")
    s.add_argument("--socket", type=Path, help="Unix socket (default: the daemon's default)")
    s.add_argument("--tcp", help="connect to HOST:PORT instead")
    s.add_argument("--json", action="store_true", help="print the daemon's report as JSON")
    s.set_defaults(func=cmd_status)

    ns = sub.add_parser("subscribe", help="print records from NATS (scale-out deployments)")
    ns.add_argument("--nats", action="append", required=True, metavar="URL", help="nats://...")
    ns.add_argument("-e", "--exchange", action="append", default=[], help="only this venue")
    ns.add_argument("-s", "--symbol", action="append", default=[], help="only this symbol")
    ns.add_argument("-t", "--type", action="append", default=[], choices=["ticker", "status"])
    ns.add_argument("-n", "--count", type=int, help="stop after this many records")
    ns.add_argument("--subject-prefix", default="md", help="the daemons' nats.subject_prefix")
    ns.add_argument(
        "--replay", type=float, metavar="SECONDS", help="JetStream: the last SECONDS first"
    )
    ns.add_argument("--stream", default="MD", help="with --replay: the stream (nats.stream)")
    ns.set_defaults(func=cmd_subscribe)

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
