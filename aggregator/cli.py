"""The `aggregator` command: run, check, exchanges, demo, tail, status, subscribe, normalize,
install."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import math
import sys
import urllib.parse
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import AggregatorError, ConfigError
from .logs import FORMATS, setup_logging

if TYPE_CHECKING:
    from .filters import Checked

log = logging.getLogger("aggregator")


# --- argparse types: a bad value exits 2 with argparse's usage line, naming the option ---


def _count(value: str) -> int:
    """A number of records: an integer > 0."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {value!r}")
    return n


def _positive(value: str) -> float:
    """Seconds, or a rate: a finite number > 0."""
    try:
        x = float(value)
    except ValueError:
        x = math.nan
    if not 0 < x < math.inf:
        raise argparse.ArgumentTypeError(f"expected a number > 0 (finite), got {value!r}")
    return x


def _speed(value: str) -> float | None:
    """A replay's pace: a factor > 0, or "max" (None)."""
    return None if value == "max" else _positive(value)


def _port(text: str) -> int | None:
    """A TCP port 1..65535, or None."""
    if not (text.isascii() and text.isdigit()):
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def _host_port(value: str) -> str:
    """HOST:PORT with a port 1..65535 (the host defaults to 127.0.0.1 when empty)."""
    _, sep, port = value.rpartition(":")
    if not sep or _port(port) is None:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port 1-65535, got {value!r}")
    return value


def _loopback(value: str) -> str:
    """Loopback only: "127.0.0.1:PORT" (or localhost, ::1), like the config's listen keys."""
    from .config import is_loopback

    if not is_loopback(value) or _port(value.rpartition(":")[2]) is None:
        raise argparse.ArgumentTypeError(
            f"expected 127.0.0.1:PORT (loopback only, a port 1-65535), got {value!r}"
        )
    return value


def _nats_urls(value: str) -> str:
    """One or more nats://HOST[:PORT] (or tls://) separated by commas."""
    urls = [u.strip() for u in value.split(",") if u.strip()]
    for url in urls or [value]:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port  # ValueError when out of 0-65535
        except ValueError:
            parts, port = None, 0
        if parts is None or parts.scheme not in ("nats", "tls") or not parts.hostname or port == 0:
            raise argparse.ArgumentTypeError(
                f"expected nats://HOST:PORT (a port 1-65535; tls:// too), got {url!r}"
            )
    return value


def _checked(check: Callable[[str], object], errors: type[Exception]) -> Callable[[str], str]:
    """An argparse type: the value as given, once ``check`` accepts it; its error (one of
    ``errors``) becomes argparse's usage message."""

    def checked(value: str) -> str:
        try:
            check(value)
        except errors as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return value

    return checked


def _shard(value: str) -> str:
    """A shard of the venues: "i/n" with 0 <= i < n."""
    from .shard import parse_shard

    return _checked(parse_shard, ValueError)(value)


def _exchange(value: str) -> str:
    """An exchange id a record can carry (today's, or an old one: mapped later, with a notice)."""
    from .filters import FilterError, exchange

    return _checked(exchange, FilterError)(value)


def _symbol(value: str) -> str:
    """A unified symbol, BASE/QUOTE."""
    from .filters import FilterError, symbol

    return _checked(symbol, FilterError)(value)


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
    from .config import load, make_dirs
    from .shard import select

    loaded = load(args.config)
    config = select(loaded, args.shard or "", args.exchanges)
    if any(e.enabled for e in loaded.exchanges) and not any(e.enabled for e in config.exchanges):
        scope = f"--shard {args.shard}" if args.shard else "--exchanges"
        warning = f"{scope} selects no enabled venue of {args.config}: nothing will be recorded"
        config = dataclasses.replace(config, warnings=(*config.warnings, warning))
    make_dirs(config)
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
    venues = (
        ", ".join(
            f"{e.venue} ({e.mode}{'' if e.enabled else ', disabled'})" for e in config.exchanges
        )
        or "none"
    )
    print(f"{args.config}: ok; venues: {venues}")
    return 0


def cmd_exchanges(args: argparse.Namespace) -> int:
    from . import venues
    from .adapters import registry

    rows = []
    for eid, status, detail in venues.rows():
        if status == "trading":
            modes = registry.modes(eid)
            what = f"adapter: {'+'.join(modes)}" if modes else "no adapter yet"
            detail = f"{what}; {detail}" if detail else what
        rows.append((eid, status, detail))
    if args.status:
        wanted = "renamed" if args.status == "old" else args.status
        rows = [r for r in rows if r[1] == wanted]
    width = max(len(r[0]) for r in rows)
    print(f"{'id':<{width}}  {'status':<8}  detail")
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:<8}  {r[2]}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    setup_logging(args.log_level, args.log_format)
    return run_loop(run_demo(args))


def _filter(args: argparse.Namespace) -> Checked:
    """The -e/-s/-t filter as it will be asked for: today's ids, unified symbols (each value
    was checked by its argparse type); what was mapped is said on stderr."""
    from .filters import check

    checked = check(args.exchange, args.symbol, args.type, getattr(args, "kind", ()))
    for notice in checked.notices:
        print(f"aggregator {args.command}: {notice.message}", file=sys.stderr)
    return checked


def cmd_tail(args: argparse.Namespace) -> int:
    from .client import tail

    path = None if args.tcp else str(args.socket or default_socket())
    f = _filter(args)
    if args.table:
        from .live import live_table

        table = live_table(
            path,
            args.tcp,
            list(f.exchanges),
            list(f.symbols),
            args.count,
            args.duration,
            args.stale,
        )
        return run_loop(table)
    return run_loop(
        tail(
            path,
            args.tcp,
            f.exchanges,
            f.symbols,
            f.types,
            args.count,
            sys.stdout,
            protocol=args.protocol,
            kinds=f.kinds,
        )
    )


def cmd_status(args: argparse.Namespace) -> int:
    from .status import status

    path = None if args.tcp else str(args.socket or default_socket())
    return run_loop(status(path, args.tcp, args.json, sys.stdout))


def cmd_subscribe(args: argparse.Namespace) -> int:
    from .subscribe import subscribe

    servers = [u.strip() for u in ",".join(args.nats).split(",") if u.strip()]
    f = _filter(args)
    return run_loop(
        subscribe(
            servers,
            args.subject_prefix,
            f.exchanges,
            f.symbols,
            f.types,
            args.count,
            sys.stdout,
            replay=args.replay,
            stream=args.stream,
            kinds=f.kinds,
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


def cmd_export(args: argparse.Namespace) -> int:
    try:
        from .reader import export, read
    except ModuleNotFoundError as e:
        raise AggregatorError(
            f"export needs {e.name}, which is not installed: pip install 'aggregator[parquet]'"
        ) from None
    table = read(
        args.dir,
        args.exchange or None,
        args.symbol or None,
        args.type,
        args.start,
        args.end,
        kinds=args.kind or None,
    )
    export(table, args.output)
    print(f"{table.num_rows} {args.type} records written to {args.output}", file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from .config import NatsConfig, SocketConfig
    from .datafiles import time_ns
    from .replay import replay

    if args.socket is None and args.tcp is None:
        raise AggregatorError("replay: --socket PATH or --tcp 127.0.0.1:PORT is required")
    sock = SocketConfig(path=args.socket or Path("replay.sock"), tcp=args.tcp or "")
    nats = NatsConfig(enabled=True, servers=tuple(args.nats.split(","))) if args.nats else None
    start, end = time_ns(args.start, "--from"), time_ns(args.end, "--to")
    return run_loop(replay(args.sources, sock, nats, start, end, args.speed, args.now))


def cmd_normalize(args: argparse.Namespace) -> int:
    from .normalize import normalize

    mode = "ws" if args.ws else "rest"
    return normalize(
        args.exchange, mode, args.symbol, args.state_dir, markets=args.markets, kind=args.kind
    )


# --- parser -----------------------------------------------------------------------------


def _filter_options(p: argparse.ArgumentParser) -> None:
    """-e, -s, -t and -n, as tail and subscribe take them."""
    from .filters import TYPES

    p.add_argument(
        "-e", "--exchange", type=_exchange, action="append", default=[], help="only this venue"
    )
    p.add_argument(
        "-s", "--symbol", type=_symbol, action="append", default=[], help="only this symbol"
    )
    p.add_argument("-t", "--type", action="append", default=[], choices=TYPES)
    p.add_argument("-n", "--count", type=_count, help="stop after this many records")


def _kind_option(p: argparse.ArgumentParser) -> None:
    from .records import KINDS

    p.add_argument(
        "-k", "--kind", action="append", default=[], choices=KINDS, help="only this kind of market"
    )


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
        "--shard",
        type=_shard,
        metavar="I/N",
        help="run the venues with crc32(venue) %% N == I (0 <= I < N)",
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
    e.add_argument(
        "--status",
        choices=["trading", "renamed", "closed", "old"],
        help="only these (old: the same as renamed)",
    )
    e.set_defaults(func=cmd_exchanges)

    d = sub.add_parser("demo", help="run the daemon on simulated local venues (offline)")
    d.add_argument("-c", "--config", help="demo config (default: config/demo.toml or built-in)")
    d.add_argument("--duration", type=_positive, help="seconds to run (default: until Ctrl-C)")
    d.add_argument("--data-dir", type=Path, default=Path("demo-data"), help="where files go")
    d.add_argument(
        "--socket", type=Path, help="Unix socket path, in an existing directory (default: ./run/)"
    )
    d.add_argument("--rate", type=_positive, default=200.0, help="price updates/s per venue")
    d.add_argument("--all", action="store_true", help="every venue with a simulated stream")
    d.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    d.add_argument("--log-format", default="text", choices=FORMATS, help="text or json lines")
    d.add_argument(
        "--metrics",
        type=_loopback,
        metavar="HOST:PORT",
        help="serve /metrics and /health there (loopback only, e.g. 127.0.0.1:9464)",
    )
    d.add_argument(
        "--nats",
        type=_nats_urls,
        metavar="URL",
        help="also publish to this NATS server (nats://...)",
    )
    d.add_argument(
        "--web",
        type=_loopback,
        nargs="?",
        const="127.0.0.1:8080",
        metavar="HOST:PORT",
        help="serve the live page there (loopback only; default 127.0.0.1:8080)",
    )
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("tail", help="print records from a running daemon's socket")
    t.add_argument("--socket", type=Path, help="Unix socket (default: the daemon's default)")
    t.add_argument("--tcp", type=_host_port, metavar="HOST:PORT", help="connect there instead")
    _filter_options(t)
    _kind_option(t)
    t.add_argument(
        "--protocol",
        action="store_true",
        help="also print the daemon's protocol lines (ack, snapshot_end, notices) on stdout",
    )
    t.add_argument("--table", action="store_true", help="a live table of the latest values")
    t.add_argument("--duration", type=_positive, help="with --table: stop after this many seconds")
    t.add_argument(
        "--stale", type=_positive, default=10.0, help="with --table: dim values older than this (s)"
    )
    t.set_defaults(func=cmd_tail)

    s = sub.add_parser("status", help="every venue's state, from the running daemon")
    s.add_argument("--socket", type=Path, help="Unix socket (default: the daemon's default)")
    s.add_argument("--tcp", type=_host_port, metavar="HOST:PORT", help="connect there instead")
    s.add_argument("--json", action="store_true", help="print the daemon's report as JSON")
    s.set_defaults(func=cmd_status)

    ns = sub.add_parser("subscribe", help="print records from NATS (scale-out deployments)")
    ns.add_argument(
        "--nats", type=_nats_urls, action="append", required=True, metavar="URL", help="nats://..."
    )
    _filter_options(ns)
    _kind_option(ns)
    ns.add_argument("--subject-prefix", default="md", help="the daemons' nats.subject_prefix")
    ns.add_argument(
        "--replay", type=_positive, metavar="SECONDS", help="JetStream: the last SECONDS first"
    )
    ns.add_argument("--stream", default="MD", help="with --replay: the stream (nats.stream)")
    ns.set_defaults(func=cmd_subscribe)

    x = sub.add_parser("export", help="a data directory's records to one Parquet or CSV file")
    x.add_argument("dir", type=Path, help="the data directory (files.dir)")
    x.add_argument("-o", "--output", type=Path, required=True, help="FILE.parquet or FILE.csv")
    x.add_argument("-e", "--exchange", action="append", default=[], help="only this venue")
    x.add_argument("-s", "--symbol", action="append", default=[], help="only this symbol")
    _kind_option(x)
    x.add_argument("-t", "--type", choices=["ticker", "status", "bbo"], default="ticker")
    x.add_argument("--from", dest="start", metavar="TIME", help="from this time (ISO 8601, UTC)")
    x.add_argument("--to", dest="end", metavar="TIME", help="before this time (ISO 8601, UTC)")
    x.set_defaults(func=cmd_export)

    rp = sub.add_parser("replay", help="serve recorded records over the socket, as the daemon")
    rp.add_argument("sources", type=Path, nargs="+", help="data directories or JSON Lines files")
    rp.add_argument("--socket", type=Path, help="serve on this Unix socket")
    rp.add_argument("--tcp", type=_loopback, metavar="HOST:PORT", help="and/or on loopback TCP")
    rp.add_argument("--nats", type=_nats_urls, metavar="URL", help="also publish to NATS")
    rp.add_argument(
        "--speed", type=_speed, default="1", help="N times the recorded pace, or max (default 1)"
    )
    rp.add_argument("--from", dest="start", metavar="TIME", help="from this time (ISO 8601, UTC)")
    rp.add_argument("--to", dest="end", metavar="TIME", help="before this time (ISO 8601, UTC)")
    rp.add_argument("--now", action="store_true", help="start without waiting for a subscriber")
    rp.set_defaults(func=cmd_replay)

    n = sub.add_parser("normalize", help="normalise raw venue payloads from stdin (offline)")
    n.add_argument("exchange")
    mode = n.add_mutually_exclusive_group(required=True)
    mode.add_argument("--ws", action="store_true", help="stdin holds WebSocket frames")
    mode.add_argument("--rest", action="store_true", help="stdin holds REST responses")
    n.add_argument("--symbol", help="the unified symbol of payloads that do not name their market")
    n.add_argument(
        "--markets", type=Path, metavar="FILE", help="the venue's markets response, as it sends it"
    )
    n.add_argument("--state-dir", type=Path, help="where the daemon caches markets")
    n.add_argument(
        "--kind",
        choices=("spot", "perp", "future"),
        default="spot",
        help="the payloads' kind of market (the venue's codec of that kind reads them)",
    )
    n.set_defaults(func=cmd_normalize)

    i = sub.add_parser("install", help="write the systemd unit, sysusers.d and tmpfiles.d files")
    i.add_argument("--root", type=Path, default=Path("/"), help="write under this directory")
    i.add_argument("--prefix", help="the environment holding bin/aggregator (default: this one)")
    i.add_argument("--print", action="store_true", help="print the files instead of writing them")
    i.set_defaults(func=cmd_install)
    return p


def cmd_install(args: argparse.Namespace) -> int:
    from . import install

    prefix = args.prefix or install.default_prefix()
    if args.print:
        return install.show(prefix, sys.stdout)
    return install.write(args.root, prefix, sys.stdout)


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
