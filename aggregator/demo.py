"""`aggregator demo`: the real daemon against simulated venues on 127.0.0.1, offline."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import socket
import sys
from pathlib import Path

from .adapters.registry import codec_class, modes
from .app import Daemon
from .config import Config, check_config_paths, load, make_dirs
from .errors import ConfigError
from .logs import log_format
from .sim import VenueSim
from .sim.dialects import simulated, simulated_derivatives
from .symbols import snapshot_path

log = logging.getLogger(__name__)

REPORT_INTERVAL = 5.0


def demo_config_path(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    local = Path("config/demo.toml")
    return local if local.is_file() else Path(__file__).parent / "data" / "demo.toml"


def base_config(args: argparse.Namespace) -> Config:
    """The demo config file; with --all, every simulated venue in place of its venues, each
    with the kinds of market simulated (spot, and the derivatives of those that have them)."""
    base = load(demo_config_path(args.config), check_paths=False)
    if not getattr(args, "all", False) or not base.exchanges:
        return base
    template = base.exchanges[0]  # carries the [exchange_defaults] of the file
    simulated_kinds = {v: ["spot"] for v in simulated() if "ws" in modes(v)}
    for v, kind in simulated_derivatives():
        if "ws" in modes(v, kind):
            simulated_kinds.setdefault(v, []).append(kind)
    exchanges = []
    for v, kinds in sorted(simulated_kinds.items()):
        feeds = tuple(
            dataclasses.replace(
                template,
                venue=v,
                key=v,
                kind=kind,
                kinds=tuple(kinds),
                mode="ws",
                symbols=demo_symbols(v, kind=kind),
                stale_after=template.stale_after
                if kind == "spot"
                else codec_class(v, kind).STALE_AFTER,
            )
            for kind in kinds
        )
        per_kind = feeds if len(feeds) > 1 or kinds != ["spot"] else ()
        exchanges.append(dataclasses.replace(feeds[0], per_kind=per_kind))
    return dataclasses.replace(base, exchanges=tuple(exchanges))


def demo_symbols(venue: str, n: int = 3, kind: str = "spot") -> tuple[str, ...]:
    """A few markets of the venue's snapshot (of that kind), BTC and ETH first."""
    name = venue if kind == "spot" else f"{venue}-{kind}"
    table = codec_class(venue, kind).markets_from(snapshot_path(name).read_bytes())
    symbols = sorted(
        (m.symbol for m in table.markets if m.kind == kind),
        key=lambda s: (s[:4] not in ("BTC/", "ETH/"), s),
    )
    return tuple(symbols[:n])


def demo_config(args: argparse.Namespace, base: Config) -> Config:
    """The demo config with the paths and sinks from the flags, checked (nothing created)."""
    data_dir: Path = args.data_dir
    config = dataclasses.replace(
        base,
        daemon=dataclasses.replace(base.daemon, state_dir=data_dir / "state"),
        files=dataclasses.replace(base.files, dir=data_dir / "data"),
        socket=dataclasses.replace(base.socket, path=args.socket or base.socket.path),
    )
    if getattr(args, "metrics", None):
        config = dataclasses.replace(
            config, metrics=dataclasses.replace(config.metrics, listen=args.metrics)
        )
    if getattr(args, "nats", None):
        config = with_nats(config, args.nats)
    if getattr(args, "web", None):  # the page shows the consolidated view: both on
        config = dataclasses.replace(
            config,
            web=dataclasses.replace(config.web, listen=args.web),
            consolidated=dataclasses.replace(config.consolidated, enabled=True),
        )
    socket_dir = config.socket.path.parent
    if args.socket and not socket_dir.is_dir():  # the demo makes only its own directories
        raise ConfigError(
            f"--socket: directory {str(socket_dir)!r} does not exist "
            "(the demo creates no directory outside its own)"
        )
    check_config_paths(config)
    return config


Sims = dict[tuple[str, str], VenueSim]  # (venue, kind) -> its simulator


def with_sims(config: Config, sims: Sims) -> Config:
    """Every venue's adapters (one per kind) pointed at their simulators."""
    exchanges = []
    for ex in config.exchanges:
        feeds = tuple(
            dataclasses.replace(f, **sims[(f.venue, f.kind)].endpoints())  # type: ignore[arg-type]
            for f in ex.feeds()
        )
        per_kind = feeds if ex.per_kind else ()
        exchanges.append(dataclasses.replace(feeds[0], kinds=ex.kinds, per_kind=per_kind))
    return dataclasses.replace(config, exchanges=tuple(exchanges))


async def run_demo(args: argparse.Namespace) -> int:
    config = demo_config(args, base_config(args))
    make_dirs(config)
    sims = {
        (f.venue, f.kind): VenueSim(f.venue, rate=args.rate, kind=f.kind)
        for ex in config.exchanges
        for f in ex.feeds()
    }
    for sim in sims.values():
        await sim.start()
    try:
        config = with_sims(config, sims)
        daemon = Daemon(config)
        for (venue, kind), sim in sims.items():
            log.info("simulated %s (%s) on %s", venue, kind, sim.base_url)

        async def on_ready() -> None:
            _say(
                f"demo: {len(config.exchanges)} simulated venues ({len(sims)} kinds of market); "
                f"records go to {config.files.dir}/ and to "
                f"{config.socket.path}\n"
                f"demo: watch them with: aggregator tail --socket {config.socket.path}"
            )
            if daemon.nats is not None:
                servers = ",".join(config.nats.servers)
                _say(f"demo: and on NATS with: aggregator subscribe --nats {servers}")
            if daemon.web is not None:
                _say(f"demo: the live page: {daemon.web.url}")

        daemon.on_ready = on_ready
        reporter = asyncio.ensure_future(_report(daemon, args.duration or 0.0))
        try:
            rc = await daemon.run()
        finally:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
        per_venue = ", ".join(f"{a.name} {a.stats().records}" for a in daemon.adapters)
        _say(f"demo: done; records per venue: {per_venue}")
        return rc
    finally:
        for sim in sims.values():
            await sim.stop()


async def _report(daemon: Daemon, duration: float) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + duration if duration > 0 else None
    while True:
        wait = REPORT_INTERVAL if end is None else min(REPORT_INTERVAL, end - loop.time())
        if wait > 0:
            await asyncio.sleep(wait)
        if end is not None and loop.time() >= end - 0.001:
            daemon.request_stop("demo duration reached")
            return
        f = daemon.files
        counts = ", ".join(f"{a.name} {a.stats().records}" for a in daemon.adapters)
        written = f.written if f else 0
        nats = f"; published to NATS {daemon.nats.published}" if daemon.nats else ""
        _say(f"demo: records {counts}; written to files {written}{nats}")


def _say(text: str) -> None:
    """A line for the person watching; a log record when the log is JSON (one per line)."""
    if log_format() == "json":
        for line in text.splitlines():
            log.info("%s", line)
    else:
        print(text, file=sys.stderr)


def with_nats(config: Config, urls: str) -> Config:
    """``--nats URL[,URL]``: publish to core NATS there too; the instance id is the hostname."""
    servers = tuple(u.strip() for u in urls.split(",") if u.strip())
    bad = [u for u in servers if not u.startswith(("nats://", "tls://"))]
    if bad or not servers:
        raise ConfigError(f"--nats: expected nats://HOST:PORT, got {urls!r}")
    nats = dataclasses.replace(config.nats, enabled=True, servers=servers, jetstream=False)
    daemon = config.daemon
    if not daemon.instance_id:
        daemon = dataclasses.replace(daemon, instance_id=socket.gethostname())
    return dataclasses.replace(config, nats=nats, daemon=daemon)
