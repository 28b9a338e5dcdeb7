"""Configuration: TOML loaded into frozen, typed objects, or one clear error.

Every key is checked: an unknown key, a wrong type, a value out of range, an unknown or
closed exchange, or an unusable path raises ConfigError naming the file, the line, the key,
what was expected and what was found. Loading creates nothing: the directories are made when
the daemon starts (``make_dirs``); ``aggregator check`` leaves the disk as it found it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import os
import re
import tempfile
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import venues
from .errors import ConfigError
from .symbols import is_unified

log = logging.getLogger(__name__)


def _default_runtime_dir() -> Path:
    return Path(os.environ.get("RUNTIME_DIRECTORY", "run").split(":")[0])


def _default_state_dir() -> Path:
    return Path(os.environ.get("STATE_DIRECTORY", "state").split(":")[0])


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    state_dir: Path = field(default_factory=_default_state_dir)  # markets cache lives here
    shutdown_grace: float = 4.0  # seconds from the stop signal to a forced exit
    watchdog_stale: float = 60.0  # no ticker for this long withholds the systemd watchdog
    log_level: str = "info"
    log_format: str = "text"  # "text" (people) or "json" (one object per line, log shippers)
    instance_id: str = ""  # names this instance in records and on NATS; with NATS on: hostname
    shard: str = ""  # "i/n": run only the venues with crc32(venue) % n == i (see aggregator.shard)


@dataclass(frozen=True, slots=True)
class FilesConfig:
    enabled: bool = True
    dir: Path = field(default_factory=lambda: _default_state_dir() / "data")
    period: str = "hour"  # "hour" or "day"
    max_bytes: int = 256 * 1024 * 1024  # a file larger than this is rotated early
    compress: str = "gzip"  # "gzip" or "none", for closed files
    # "jsonl" (the live format: always) and "parquet": closed files also as Parquet
    formats: tuple[str, ...] = ("jsonl",)
    flush_interval: float = 1.0  # seconds; buffered records reach the OS at least this often
    queue_size: int = 500_000  # records buffered for the writer before drops are counted


@dataclass(frozen=True, slots=True)
class SocketConfig:
    enabled: bool = True
    path: Path = field(default_factory=lambda: _default_runtime_dir() / "aggregator.sock")
    mode: str = "0660"
    tcp: str = ""  # "127.0.0.1:PORT" to also listen on TCP; empty for none
    max_clients: int = 1024
    client_buffer: int = 1024 * 1024  # bytes unsent to a client before it is conflated
    # write calls per second the sink stays under: with N subscribers a batch goes out at
    # most every N / max_writes s (100 subscribers: 10 ms; 10: 1 ms); 0: every batch at once
    max_writes: int = 10_000
    max_line: int = 65536  # longest accepted client input line, in bytes


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    listen: str = ""  # "127.0.0.1:PORT" serves /metrics and /health (loopback only); "": off
    stale_after: float = 60.0  # a venue without a record this long fails /health


@dataclass(frozen=True, slots=True)
class ConsolidatedConfig:
    """The consolidated best bid and offer (aggregator/consolidated.py)."""

    enabled: bool = False  # publish `bbo` records (a [web] page turns it on too)
    interval: float = 0.25  # seconds: at most one bbo record per symbol this often
    # quote currencies merged into one book: (("USD", ("USDT", "USDC")),) from
    # [consolidated.groups] USD = ["USDT", "USDC"]
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class WebConfig:
    """The live web page and its WebSocket feed (aggregator/web/)."""

    listen: str = ""  # "127.0.0.1:PORT" serves the page; "": off
    allow_remote: bool = False  # a listen address other hosts can reach needs this


@dataclass(frozen=True, slots=True)
class NatsConfig:
    """Publishing to NATS (scale-out): see aggregator/sinks/nats.py."""

    enabled: bool = False
    servers: tuple[str, ...] = ("nats://127.0.0.1:4222",)  # any of a cluster; reconnects to any
    subject_prefix: str = "md"  # subjects: <prefix>.ticker.<exchange>.<BASE-QUOTE>
    jetstream: bool = False  # publish into a stream (persisted, replayable, de-duplicated)
    stream: str = "MD"  # the stream's name; it captures <prefix>.>
    replicas: int = 1  # copies of the stream in a cluster (3 survives the loss of a node)
    max_age: float = 3600.0  # seconds a record stays in the stream
    max_bytes: int = 1024**3  # the stream's size limit; the oldest records go first
    duplicate_window: float = 120.0  # seconds a message id is remembered (de-duplication)
    queue_size: int = 100_000  # records buffered while NATS is slow or unreachable; oldest dropped
    connect_timeout: float = 5.0
    reconnect_wait: float = 1.0  # seconds between attempts on the same server


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    venue: str  # today's id
    key: str = ""  # the id as written in the config
    enabled: bool = True
    mode: str = ""  # "ws" (stream) or "rest" (poll); empty: stream where the venue can
    symbols: tuple[str, ...] = ()  # unified symbols; empty means every market of the venue
    ws_url: str = ""  # empty: the venue's public endpoint
    rest_url: str = ""
    markets_url: str = ""
    poll_interval: float = 0.0  # seconds between REST polls; 0: the venue's default
    stale_after: float = 30.0  # seconds with no data before a reconnect
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    healthy_after: float = 30.0  # a session this long resets the backoff
    open_timeout: float = 10.0
    request_timeout: float = 10.0
    markets_refresh: float = 86400.0
    markets_retry_max: float = 300.0  # cap of the backoff retrying a failed markets request
    max_symbols_per_connection: int = 0  # 0: the venue's own limit
    fallback: bool = True  # poll REST while a stream stays down (venues with both)
    fallback_after: float = 60.0  # seconds a stream is down before polling starts
    capture: bool = False  # keep the raw frames and answers (adapters/recorder.py)
    kinds: tuple[str, ...] = ("spot",)  # the kinds of market followed: one adapter each
    kind: str = "spot"  # (not a key) the kind of market of one adapter's config
    # (not a key) one config per kind, each with that kind's symbols: see feeds()
    per_kind: tuple[ExchangeConfig, ...] = ()

    def feeds(self) -> tuple[ExchangeConfig, ...]:
        """The config of each adapter of this venue: one per kind of market it follows."""
        return self.per_kind or (self,)


def kind_of(symbol: str) -> str:
    """The kind of market a unified symbol names: ``BTC/USDT`` spot, ``BTC/USDT:USDT`` perp,
    ``BTC/USDT:USDT-261225`` future (an expiry date after the settlement currency)."""
    if ":" not in symbol:
        return "spot"
    return "future" if _FUTURE_RE.search(symbol) else "perp"


_FUTURE_RE = re.compile(r":[^:]*-\d{6}$")


@dataclass(frozen=True, slots=True)
class Config:
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    files: FilesConfig = field(default_factory=FilesConfig)
    socket: SocketConfig = field(default_factory=SocketConfig)
    exchanges: tuple[ExchangeConfig, ...] = ()
    source: Path | None = None
    warnings: tuple[str, ...] = ()
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    nats: NatsConfig = field(default_factory=NatsConfig)
    consolidated: ConsolidatedConfig = field(default_factory=ConsolidatedConfig)
    web: WebConfig = field(default_factory=WebConfig)


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
URL_KEYS = ("ws_url", "rest_url", "markets_url")
# What a kind's own table ([exchanges.binance.perp]) may set for that kind's adapter.
KIND_KEYS = frozenset(
    {*URL_KEYS, "mode", "poll_interval", "stale_after", "max_symbols_per_connection"}
    | {"fallback", "fallback_after"}
)
KIND_TABLES = ("spot", "perp", "future", "option")  # (records.KINDS)
_EXCHANGE_KEYS = {f.name for f in dataclasses.fields(ExchangeConfig)} - {
    "venue",
    "key",
    "kind",
    "per_kind",
}


class _Loader:
    def __init__(self, text: str, source: Path | None) -> None:
        self.text = text
        self.lines = text.splitlines()
        self.source = source

    def fail(self, path: str, message: str) -> typing.NoReturn:
        where = str(self.source) if self.source else "<config>"
        line = self._line_of(path)
        if line:
            where += f":{line}"
        # A value echoed in full (from another module's message, say) is cut here.
        shown = path if len(path) <= 120 else path[:112] + "...(cut)"
        if len(message) > 400:
            message = message[:392] + "...(cut)"
        raise ConfigError(f"{where}: {shown}: {message}")

    def _line_of(self, path: str) -> int | None:
        """Best-effort line of a dotted key: its table header, then the key below it."""
        parts = path.split(".")
        start = 0
        for depth in range(len(parts) - 1, 0, -1):
            header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(map(re.escape, parts[:depth])))
            for i, text in enumerate(self.lines):
                if header.match(text):
                    start = i
                    break
            else:
                continue
            break
        key = re.compile(r"^\s*" + re.escape(parts[-1]) + r"\s*=")
        header_of_key = re.compile(
            r"^\s*\[\s*" + r"\s*\.\s*".join(map(re.escape, parts)) + r"\s*\]"
        )
        for i in range(start, len(self.lines)):
            if key.match(self.lines[i]) or header_of_key.match(self.lines[i]):
                return i + 1
        return start + 1 if start else None

    def build(self, cls: type, table: Any, path: str, **fixed: Any) -> Any:
        if not isinstance(table, dict):
            self.fail(path, f"expected a table, got {_kind(table)}")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)} - set(fixed)
        kwargs = dict(fixed)
        for key, value in table.items():
            kpath = f"{path}.{key}" if path else key
            if key not in names:
                self.fail(kpath, f"unknown key; expected one of: {', '.join(sorted(names))}")
            kwargs[key] = self.convert(hints[key], value, kpath, key)
        return cls(**kwargs)

    def convert(self, hint: Any, value: Any, path: str, key: str) -> Any:
        if hint is bool:
            if isinstance(value, bool):
                return value
            self.fail(path, f"expected true or false, got {_kind(value)} {_show(value)}")
        if hint is int:
            if key.endswith("_bytes") or key in ("client_buffer", "max_line"):
                return self._size(value, path)
            if isinstance(value, int) and not isinstance(value, bool):
                if value < 0:
                    self.fail(path, f"expected an integer >= 0, got {value}")
                return value
            self.fail(path, f"expected an integer, got {_kind(value)} {_show(value)}")
        if hint is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                if not 0 < value < math.inf:
                    self.fail(path, f"expected a number of seconds > 0 (finite), got {value}")
                return float(value)
            self.fail(path, f"expected a number of seconds, got {_kind(value)} {_show(value)}")
        if hint is str:
            if isinstance(value, str):
                return value
            self.fail(path, f"expected a string, got {_kind(value)} {_show(value)}")
        if hint is Path:
            if isinstance(value, str) and value.strip() and "\0" not in value:
                return Path(os.path.expanduser(value))
            self.fail(
                path,
                f"expected a path (a non-empty string, no NUL), got {_kind(value)} {_show(value)}",
            )
        origin = typing.get_origin(hint)
        if origin is tuple:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                self.fail(path, f"expected a list of strings, got {_kind(value)} {_show(value)}")
            return tuple(value)
        if origin in (types.UnionType, typing.Union):
            raise AssertionError(f"unsupported optional field {path}")
        raise AssertionError(f"unsupported config type {hint!r} at {path}")

    def _size(self, value: Any, path: str) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        if isinstance(value, str):
            m = _SIZE_RE.match(value)
            if m:
                n = float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").lower()]
                if 1 <= n < 2**63:
                    return int(n)
        self.fail(
            path,
            f"expected a size in bytes (an integer, or a string like '64MiB'), "
            f"got {_kind(value)} {_show(value)}",
        )


def _show(value: Any) -> str:
    """A value as it appears in an error message: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 80 else text[:72] + "...(cut)"


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def load(path: str | Path, *, check_paths: bool = True) -> Config:
    """Read and validate a config file; raise ConfigError with the key at fault."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: config file not found") from None
    except OSError as e:
        raise ConfigError(f"{source}: cannot read config file: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: not UTF-8 text (byte {e.start}): not a TOML file") from None
    return loads(text, source=source, check_paths=check_paths)


def loads(text: str, *, source: Path | None = None, check_paths: bool = True) -> Config:
    loader = _Loader(text, source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source or '<config>'}: not valid TOML: {e}") from None
    known = {"daemon", "files", "socket", "exchanges", "exchange_defaults", "metrics", "nats"}
    known |= {"consolidated", "web"}
    for key in doc:
        if key not in known:
            loader.fail(key, f"unknown section; expected one of: {', '.join(sorted(known))}")
    daemon = loader.build(DaemonConfig, doc.get("daemon", {}), "daemon")
    files = loader.build(FilesConfig, doc.get("files", {}), "files")
    sock = loader.build(SocketConfig, doc.get("socket", {}), "socket")
    _check_choices(loader, daemon, files, sock)
    nats = loader.build(NatsConfig, doc.get("nats", {}), "nats")
    daemon = _check_nats(loader, daemon, nats)
    metrics = loader.build(MetricsConfig, doc.get("metrics", {}), "metrics")
    if metrics.listen and not is_loopback(metrics.listen):
        loader.fail(
            "metrics.listen",
            f"expected '127.0.0.1:PORT' (loopback only), got {_show(metrics.listen)}",
        )
    consolidated = _consolidated(loader, doc.get("consolidated", {}))
    web = _web(loader, doc.get("web", {}))

    defaults = doc.get("exchange_defaults", {})
    if not isinstance(defaults, dict):
        loader.fail("exchange_defaults", f"expected a table, got {_kind(defaults)}")
    for key in defaults:
        if key not in _EXCHANGE_KEYS - {"symbols", "ws_url", "rest_url", "markets_url"}:
            loader.fail(f"exchange_defaults.{key}", "not a key that can have a default")
    table = doc.get("exchanges", {})
    if not isinstance(table, dict):
        loader.fail("exchanges", f"expected a table of exchanges, got {_kind(table)}")
    warnings: list[str] = []
    exchanges: list[ExchangeConfig] = []
    seen: dict[str, str] = {}
    for key, body in table.items():
        path = f"exchanges.{key}"
        try:
            resolved = venues.resolve(key)
        except ConfigError as e:
            loader.fail(path, str(e))
        if resolved.warning:
            warnings.append(resolved.warning)
        if resolved.venue in seen:
            loader.fail(
                path,
                f"venue {resolved.venue!r} is already configured as "
                f"[exchanges.{seen[resolved.venue]}]",
            )
        seen[resolved.venue] = key
        if not isinstance(body, dict):
            loader.fail(path, f"expected a table, got {_kind(body)}")
        merged = {**defaults, **body}
        own = {k: merged.pop(k) for k in list(merged) if k in KIND_TABLES}  # [exchanges.X.perp]
        ex = loader.build(ExchangeConfig, merged, path, venue=resolved.venue, key=key)
        _check_kinds(loader, ex, path)
        if ex.capture and not files.enabled:
            loader.fail(f"{path}.capture", "the raw capture goes to files.dir: [files] is off")
        feeds = []
        for kind in ex.kinds:
            feed = _feed(loader, ex, kind, merged, own.pop(kind, {}), path)
            _check_exchange(loader, feed, path)
            feeds.append(feed)
        for kind in own:
            loader.fail(f"{path}.{kind}", f"a table for {kind!r}, which is not in kinds")
        ex = dataclasses.replace(feeds[0], kind=ex.kinds[0], symbols=ex.symbols)
        if ex.kinds != ("spot",):
            ex = dataclasses.replace(ex, per_kind=tuple(feeds))
        exchanges.append(ex)
    if not any(ex.enabled for ex in exchanges):
        warnings.append(no_venue_warning(source, bool(exchanges)))
    config = Config(
        daemon,
        files,
        sock,
        tuple(exchanges),
        source,
        tuple(warnings),
        metrics=metrics,
        nats=nats,
        consolidated=consolidated,
        web=web,
    )
    if check_paths:
        check_config_paths(config, loader)
    return config


def no_venue_warning(source: Path | None, some_disabled: bool) -> str:
    """What a config that runs no venue is told: it is valid, but nothing would be recorded."""
    where = str(source) if source else "the config"
    if some_disabled:
        return f"every venue in {where} has enabled = false: the daemon will record nothing"
    return f"no venue in {where} (no [exchanges.<id>] table): the daemon will record nothing"


def _check_choices(
    loader: _Loader, daemon: DaemonConfig, files: FilesConfig, sock: SocketConfig
) -> None:
    if daemon.log_level.lower() not in ("debug", "info", "warning", "error"):
        loader.fail(
            "daemon.log_level",
            f"expected debug, info, warning or error, got {_show(daemon.log_level)}",
        )
    if daemon.log_format not in ("text", "json"):
        loader.fail(
            "daemon.log_format", f"expected 'text' or 'json', got {_show(daemon.log_format)}"
        )
    if files.period not in ("hour", "day"):
        loader.fail("files.period", f"expected 'hour' or 'day', got {_show(files.period)}")
    if files.compress not in ("gzip", "none"):
        loader.fail("files.compress", f"expected 'gzip' or 'none', got {_show(files.compress)}")
    if "jsonl" not in files.formats or not set(files.formats) <= {"jsonl", "parquet"}:
        loader.fail(
            "files.formats",
            f'expected ["jsonl"] or ["jsonl", "parquet"], got {_show(list(files.formats))}',
        )
    if "parquet" in files.formats and importlib.util.find_spec("pyarrow") is None:
        loader.fail(
            "files.formats",
            "\"parquet\" needs pyarrow, which is not installed: pip install 'aggregator[parquet]'",
        )
    if files.queue_size < 1:
        loader.fail("files.queue_size", "expected an integer >= 1")
    if not re.fullmatch(r"0?[0-7]{3}", sock.mode):
        loader.fail(
            "socket.mode", f"expected an octal file mode like '0660', got {_show(sock.mode)}"
        )
    if sock.tcp and not is_loopback(sock.tcp):
        loader.fail(
            "socket.tcp", f"expected '127.0.0.1:PORT' (loopback only), got {_show(sock.tcp)}"
        )
    if sock.max_clients < 1:
        loader.fail("socket.max_clients", "expected an integer >= 1")


def _check_nats(loader: _Loader, daemon: DaemonConfig, nats: NatsConfig) -> DaemonConfig:
    """Check [nats] and daemon.shard; with NATS on, an empty instance_id becomes the hostname."""
    from .shard import parse_shard

    if daemon.shard:
        try:
            parse_shard(daemon.shard)
        except ValueError as e:
            loader.fail("daemon.shard", str(e))
    if not nats.servers:
        loader.fail("nats.servers", "expected at least one server URL")
    for url in nats.servers:
        if not url.startswith(("nats://", "tls://")) or len(url) <= len("nats://"):
            loader.fail("nats.servers", f"expected nats://HOST:PORT or tls://..., got {_show(url)}")
    tokens = nats.subject_prefix.split(".")
    if not all(t and not re.search(r"[\s*>]", t) for t in tokens):
        loader.fail(
            "nats.subject_prefix",
            f"expected tokens (a.b) without spaces or wildcards, got {_show(nats.subject_prefix)}",
        )
    if not re.fullmatch(r"[A-Za-z0-9_-]+", nats.stream):
        loader.fail(
            "nats.stream", f"expected letters, digits, '-' or '_', got {_show(nats.stream)}"
        )
    if not 1 <= nats.replicas <= 5:
        loader.fail("nats.replicas", f"expected 1 to 5, got {nats.replicas}")
    if nats.duplicate_window > nats.max_age:
        loader.fail("nats.duplicate_window", "expected a value <= max_age")
    if nats.queue_size < 1:
        loader.fail("nats.queue_size", "expected an integer >= 1")
    if nats.enabled and not daemon.instance_id:
        import socket

        return dataclasses.replace(daemon, instance_id=socket.gethostname())
    return daemon


def _consolidated(loader: _Loader, table: Any) -> ConsolidatedConfig:
    """[consolidated], its groups table read here (the loader takes no tables of lists)."""
    if not isinstance(table, dict):
        loader.fail("consolidated", f"expected a table, got {_kind(table)}")
    keys = {f.name for f in dataclasses.fields(ConsolidatedConfig)}
    for key in table:
        if key not in keys:
            loader.fail(
                f"consolidated.{key}", f"unknown key; expected one of: {', '.join(sorted(keys))}"
            )
    rest = {k: v for k, v in table.items() if k != "groups"}
    groups = table.get("groups", {})
    if not isinstance(groups, dict):
        loader.fail("consolidated.groups", f"expected a table, got {_kind(groups)}")
    seen: dict[str, str] = {}
    parsed = []
    for name, members in groups.items():
        path = f"consolidated.groups.{name}"
        if not re.fullmatch(r"[A-Z0-9]+", name):
            loader.fail(path, f"expected a currency code like 'USD', got {_show(name)}")
        if not isinstance(members, list) or not members:
            loader.fail(path, f"expected a list of currency codes, got {_show(members)}")
        for q in [name, *members]:
            if not isinstance(q, str) or not re.fullmatch(r"[A-Z0-9]+", q):
                loader.fail(path, f"expected currency codes like 'USDT', got {_show(q)}")
            if seen.get(q, name) != name:
                loader.fail(path, f"{q!r} is already in the group {seen[q]!r}")
            seen[q] = name
        parsed.append((name, tuple(members)))
    return loader.build(ConsolidatedConfig, rest, "consolidated", groups=tuple(parsed))


def _web(loader: _Loader, table: Any) -> WebConfig:
    web: WebConfig = loader.build(WebConfig, table, "web")
    if not web.listen:
        return web
    host, _, port = web.listen.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        loader.fail(
            "web.listen", f"expected 'HOST:PORT' like '127.0.0.1:8080', got {_show(web.listen)}"
        )
    if not is_loopback(web.listen) and not web.allow_remote:
        loader.fail(
            "web.listen",
            f"{_show(web.listen)} is reachable from other hosts; expected '127.0.0.1:PORT', "
            "or set web.allow_remote = true to serve it there",
        )
    return web


def is_loopback(address: str) -> bool:
    """``"127.0.0.1:PORT"`` (or localhost, ::1): listening there reaches no other host."""
    host, _, port = address.rpartition(":")
    return (
        host in ("127.0.0.1", "localhost", "::1", "[::1]")
        and port.isascii()
        and port.isdigit()
        and 0 <= int(port) < 65536
    )


def _check_kinds(loader: _Loader, ex: ExchangeConfig, path: str) -> None:
    """kinds: known kinds the venue has codecs for, each once; every symbol of one of them."""
    from .adapters import registry
    from .records import KINDS

    if not ex.kinds:
        loader.fail(f"{path}.kinds", 'expected at least one kind, like ["spot"]')
    has = registry.kinds(ex.venue)
    for kind in ex.kinds:
        if not has:
            break  # no adapter at all: _check_exchange says so
        if kind not in KINDS:
            loader.fail(
                f"{path}.kinds", f"expected kinds among {', '.join(KINDS)}, got {_show(kind)}"
            )
        if kind not in has:
            loader.fail(
                f"{path}.kinds",
                f"{ex.venue} has no adapter for {kind!r} markets "
                f"(its kinds: {', '.join(has) or 'none'})",
            )
    if len(set(ex.kinds)) != len(ex.kinds):
        loader.fail(f"{path}.kinds", "lists a kind twice")
    for s in ex.symbols:
        if not is_unified(s):
            loader.fail(
                f"{path}.symbols",
                "expected unified symbols like 'BTC/USDT' (derivatives: 'BTC/USDT:USDT', "
                f"'BTC/USDT:USDT-261225'), got {_show(s)}",
            )
        if kind_of(s) not in ex.kinds:
            loader.fail(
                f"{path}.symbols",
                f"{s!r} is a {kind_of(s)} symbol, but kinds = {_show(list(ex.kinds))}",
            )


def _feed(
    loader: _Loader,
    ex: ExchangeConfig,
    kind: str,
    merged: dict[str, Any],
    own: Any,
    path: str,
) -> ExchangeConfig:
    """The config of the venue's adapter of one kind: the symbols of that kind (none listed:
    all its markets), the keys of its own table ([exchanges.X.KIND]), its codec's mode and,
    unless the config says, its staleness limit. The venue's URLs are spot's (or the one
    kind's): another kind's endpoints are the codec's, or set in its own table."""
    from .adapters import registry

    tpath = f"{path}.{kind}"
    if not isinstance(own, dict):
        loader.fail(tpath, f"expected a table, got {_kind(own)}")
    changes: dict[str, Any] = {"kind": kind}
    changes["symbols"] = tuple(s for s in ex.symbols if kind_of(s) == kind)
    if kind != "spot" and len(ex.kinds) > 1:
        changes |= {url: "" for url in URL_KEYS}
    hints = typing.get_type_hints(ExchangeConfig)
    for key, value in own.items():
        if key not in KIND_KEYS:
            loader.fail(f"{tpath}.{key}", f"expected one of: {', '.join(sorted(KIND_KEYS))}")
        changes[key] = loader.convert(hints[key], value, f"{tpath}.{key}", key)
    feed = dataclasses.replace(ex, **changes)
    if kind not in registry.kinds(ex.venue):
        return feed  # (the venue has no adapter: _check_exchange says so)
    codec = registry.codec_class(ex.venue, kind)
    if "stale_after" not in merged and "stale_after" not in own:
        feed = dataclasses.replace(feed, stale_after=codec.STALE_AFTER)
    if not feed.mode:
        modes = registry.modes(ex.venue, kind)
        feed = dataclasses.replace(feed, mode="ws" if "ws" in modes or not modes else "rest")
    return feed


def _check_exchange(loader: _Loader, ex: ExchangeConfig, path: str) -> None:
    from .adapters import registry  # local: the registry imports nothing heavy, but config first

    if ex.mode not in ("ws", "rest"):
        loader.fail(f"{path}.mode", f"expected 'ws' or 'rest', got {_show(ex.mode)}")
    modes = registry.modes(ex.venue, ex.kind)
    if not modes:
        loader.fail(
            path,
            f"venue {ex.venue!r} has no adapter in this version "
            f"(available: {', '.join(registry.available())})",
        )
    if ex.mode not in modes:
        what = ex.venue if ex.kind == "spot" else f"{ex.venue} ({ex.kind})"
        loader.fail(f"{path}.mode", f"{what} supports {' and '.join(modes)}, not {_show(ex.mode)}")
    if len(set(ex.symbols)) != len(ex.symbols):  # (their form: _check_kinds)
        loader.fail(f"{path}.symbols", "lists a symbol twice")
    for name, schemes in (
        ("ws_url", ("ws://", "wss://")),
        ("rest_url", ("http://", "https://")),
        ("markets_url", ("http://", "https://")),
    ):
        url = getattr(ex, name)
        if url and not url.startswith(schemes):
            loader.fail(
                f"{path}.{name}",
                f"expected a URL starting with {' or '.join(schemes)}, got {_show(url)}",
            )
    if ex.backoff_max < ex.backoff_initial:
        loader.fail(f"{path}.backoff_max", "expected a value >= backoff_initial")
    if ex.markets_retry_max < ex.backoff_initial:
        loader.fail(f"{path}.markets_retry_max", "expected a value >= backoff_initial")


def _unusable_dir(path: Path) -> str | None:
    """Why the daemon could not use this directory (create it, or write in it), or None.

    Nothing is left behind: a directory that does not exist yet is judged by its nearest
    existing parent, where a file is made and removed at once (the entry that mkdir would
    need; permission bits alone do not say it, for root in /proc, say).
    """
    why = f"cannot create directory {str(path)!r}"
    try:
        if path.is_dir():
            if not os.access(path, os.W_OK | os.X_OK):
                return f"directory {str(path)!r} is not writable"
            return None
        if path.exists() or path.is_symlink():
            return f"{str(path)!r} is not a directory"
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    except OSError as e:  # a name too long, say
        return f"{why}: {e.strerror}"
    if not parent.is_dir():
        return f"{why}: {str(parent)!r} is not a directory"
    try:
        fd, probe = tempfile.mkstemp(prefix=".aggregator-check-", dir=parent)
    except OSError as e:
        return f"{why}: no entry can be made in {str(parent)!r} ({e.strerror})"
    os.close(fd)
    os.unlink(probe)
    return None


def _dirs(config: Config) -> list[tuple[str, Path]]:
    """The directories the daemon writes to, with the key that names each."""
    dirs = [("daemon.state_dir", config.daemon.state_dir)]
    if config.files.enabled:
        dirs.append(("files.dir", config.files.dir))
    if config.socket.enabled:
        dirs.append(("socket.path", config.socket.path.parent))
    return dirs


def check_config_paths(config: Config, loader: _Loader | None = None) -> None:
    """Check that the daemon can create and write the directories it will use; create none."""
    if config.socket.enabled:
        if len(os.fsencode(config.socket.path)) > 107:
            why = f"socket path {str(config.socket.path)!r} is longer than 107 bytes"
            _fail(loader, config, "socket.path", why)
        if config.socket.path.is_dir():
            _fail(loader, config, "socket.path", f"{str(config.socket.path)!r} is a directory")
    for key, path in _dirs(config):
        problem = _unusable_dir(path)
        if problem:
            _fail(loader, config, key, problem)


def make_dirs(config: Config) -> None:
    """Create the directories the daemon writes to (at its start, not when a config is read)."""
    for key, path in _dirs(config):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            _fail(None, config, key, f"cannot create directory {str(path)!r}: {e.strerror}")


def _fail(loader: _Loader | None, config: Config, key: str, why: str) -> typing.NoReturn:
    if loader is None:
        loader = _Loader("", config.source)
    loader.fail(key, f"{why} (expected a writable directory)")
