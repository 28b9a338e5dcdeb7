"""Fuzz: the config loader returns a Config or raises ConfigError naming the place, nothing else.

Documents are generated from the real schema (the dataclasses of aggregator.config): known
sections and keys with values of the right or of a random type, out-of-range numbers,
sizes like "12XB", unknown keys and sections, venue ids old, closed and unknown, symbols
good and bad; then rendered as TOML and sometimes damaged as text (a duplicated table, a
stray line, bytes flipped, invalid UTF-8). Each is written to a file and loaded with
``config.load`` as the daemon does.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
import typing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator import venues
from aggregator.config import (
    Config,
    DaemonConfig,
    ExchangeConfig,
    FilesConfig,
    MetricsConfig,
    NatsConfig,
    SocketConfig,
    load,
    loads,
)
from aggregator.errors import ConfigError
from tests.chaos.conftest import Chaos
from tests.chaos.fuzz import HOSTILE, byte_mutation, examples, fuzz_settings

SECTIONS: dict[str, type] = {
    "daemon": DaemonConfig,
    "files": FilesConfig,
    "socket": SocketConfig,
    "metrics": MetricsConfig,
    "nats": NatsConfig,
}
EXCHANGE_IDS = [
    *venues.VENUES[:12],
    *list(venues.ALIASES)[:4],
    *list(venues.CLOSED)[:4],
    "Binance",
    " kraken ",
    "nope",
    "",
    "x" * 500,
]
MAX_MESSAGE = 600  # characters: an error names the place and the value, it does not dump it

# Values a key of each type may get when it is "right": the edges of what is accepted.
RIGHT: dict[Any, st.SearchStrategy[Any]] = {
    bool: st.booleans(),
    int: st.one_of(st.integers(-5, 2**40), st.sampled_from([0, 1, 2**63 - 1, -(2**63)])),
    float: st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, -1.0, 1e-300, 1e308]),
    ),
    str: st.sampled_from(
        [
            "",
            "info",
            "json",
            "hour",
            "day",
            "gzip",
            "none",
            "0660",
            "777",
            "ws",
            "rest",
            "0/3",
            "3/3",
            "1/0",
            "²/3",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "127.0.0.1:²",
            "localhost:9464",
            "10.0.0.1:80",
            "nats://127.0.0.1:4222",
            "md",
            "md.x",
            "a..b",
            "MD",
            "wss://x",
            "https://x",
            "ftp://x",
            "x" * 3000,
        ]
    ),
    Path: st.sampled_from(["state", "run/a.sock", "", " ", "a\u0000b", "x" * 300]),
    "size": st.sampled_from(
        ["64MiB", "12XB", "0", "0B", "1.5GB", "9" * 400 + "TB", " 10 kib ", "-5MB", "1e3"]
    ),
    "symbols": st.lists(
        st.sampled_from(["BTC/USDT", "ETH/USD", "btc/usdt", "BTCUSDT", "", "BTC/USDT:USDT"]),
        max_size=4,
    ),
}

# Any value at all: a wrong type for most keys (drawn flat: deep strategies are slow).
SOME = [v for v in HOSTILE if "null" not in json.dumps(v)]
ANY: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([*SOME, [SOME], {"k": SOME}, [{"a": [1, "x"]}], {"a": {"b": {}}}]),
    st.text(max_size=12),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
)


def _value_for(name: str, hint: Any) -> st.SearchStrategy[Any]:
    if name.endswith("_bytes") or name in ("client_buffer", "max_line"):
        right = st.one_of(RIGHT["size"], RIGHT[int])
    elif typing.get_origin(hint) is tuple:
        right = RIGHT["symbols"]
    else:
        right = RIGHT.get(hint, ANY)
    return st.one_of(right, ANY)


def _table(cls: type, exclude: frozenset[str] = frozenset()) -> st.SearchStrategy[dict]:
    hints = typing.get_type_hints(cls)
    names = sorted(f.name for f in dataclasses.fields(cls) if f.name not in exclude)
    return st.lists(st.sampled_from(names), max_size=6, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries(
            {k: _value_for(k, hints[k]) for k in keys},
            optional={"unknown_key": ANY, "Enabled": st.booleans()},
        )
    )


EXCHANGE = _table(ExchangeConfig, frozenset({"venue", "key"}))
DOCUMENT = st.fixed_dictionaries(
    {},
    optional={
        **{name: _table(cls) for name, cls in SECTIONS.items()},
        "exchange_defaults": _table(ExchangeConfig, frozenset({"venue", "key"})),
        "exchanges": st.dictionaries(
            st.sampled_from(EXCHANGE_IDS), st.one_of(EXCHANGE, ANY), max_size=3
        ),
        "unknown_section": st.fixed_dictionaries({"k": ANY}),
        "daemon ": ANY,
    },
)


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return toml_key(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def toml_key(s: str) -> str:
    """A TOML basic string: JSON's escapes, with DEL escaped too."""
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def render(doc: dict[str, Any]) -> str:
    """Tables as [section] (exchanges as [exchanges.<id>]), other values inline."""
    top, tables = [], []
    for section, body in doc.items():
        if not isinstance(body, dict):
            top.append(f"{toml_key(section)} = {toml_value(body)}")
        elif section == "exchanges":
            for key, ex in body.items():
                if isinstance(ex, dict):
                    tables.append(f"[exchanges.{toml_key(key)}]")
                    tables.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in ex.items())
                else:
                    top.append(f"exchanges.{toml_key(key)} = {toml_value(ex)}")
        else:
            tables.append(f"[{toml_key(section)}]")
            tables.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in body.items())
    return "\n".join([*top, *tables]) + "\n"


@st.composite
def config_text(draw: st.DrawFn) -> bytes:
    text = render(draw(DOCUMENT))
    damage = draw(st.sampled_from(["none", "none", "none", "duplicate", "line", "bytes"]))
    if damage == "duplicate":
        text += draw(st.sampled_from(["[daemon]\n", "[socket]\n", "[exchanges.binance]\n"]))
    elif damage == "line":
        lines = text.splitlines()
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.text(max_size=40)))
        text = "\n".join(lines)
    elif damage == "bytes":
        return draw(byte_mutation(text.encode()))
    return text.encode(errors="surrogatepass")


KEYS = [
    (section, f.name, typing.get_type_hints(cls)[f.name])
    for section, cls in [*SECTIONS.items(), ("exchanges.binance", ExchangeConfig)]
    for f in dataclasses.fields(cls)
    if f.name not in ("venue", "key")
]


@st.composite
def one_key(draw: st.DrawFn) -> bytes:
    """One key of the schema with a value of the right or any type (cheap: a few draws)."""
    section, key, hint = draw(st.sampled_from(KEYS))
    value = draw(_value_for(key, hint))
    return f"[{section}]\n{key} = {toml_value(value)}\n".encode()


def test_config_fuzz(tmp_path: Path, chaos: Chaos) -> None:
    path = tmp_path / "aggregator.toml"
    outcomes: Counter[str] = Counter()
    n = examples(800, chaos.soak)
    started = time.monotonic()

    @fuzz_settings(n)
    @given(st.one_of(config_text(), one_key(), one_key()))
    def fuzz(data: bytes) -> None:
        path.write_bytes(data)
        try:
            config = load(path, check_paths=False)
        except ConfigError as e:
            message = str(e)
            assert message.startswith(f"{path}"), message
            assert len(message) <= MAX_MESSAGE, message
            assert "\n" not in message, message
            where = re.match(re.escape(str(path)) + r"(:\d+)?: (\S+)", message)
            assert where, message
            outcomes["ConfigError"] += 1
            return
        assert isinstance(config, Config)
        outcomes["Config"] += 1

    fuzz()
    elapsed = time.monotonic() - started
    assert outcomes["Config"] > n // 20, outcomes  # the generator makes valid configs too
    chaos.record(
        "fuzz: config loader",
        faults=f"{sum(outcomes.values())} generated config files",
        notes=f"0 unexpected exceptions; {outcomes['Config']} loaded, "
        f"{outcomes['ConfigError']} ConfigError naming file and key or line; {elapsed:.1f} s",
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[files]\nmax_bytes = "' + "9" * 400 + 'TB"\n', "files.max_bytes"),  # was OverflowError
        ('[socket]\ntcp = "127.0.0.1:\u00b2"\n', "socket.tcp"),  # was ValueError (int("²"))
        ('[daemon]\nshard = "\u00b2/3"\n', "daemon.shard"),  # was a message from int()
        ("[daemon]\nshutdown_grace = inf\n", "daemon.shutdown_grace"),  # was accepted
        ('[daemon]\nstate_dir = "a\\u0000b"\n', "daemon.state_dir"),  # was ValueError
    ],
)
def test_found_by_fuzzing(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "a.toml"
    path.write_text(text)
    with pytest.raises(
        ConfigError, match=rf"^{re.escape(str(path))}:2: {re.escape(key)}: expected"
    ):
        load(path)


@pytest.mark.parametrize(
    "text",
    [
        '[daemon]\nlog_level = "' + "x" * 3000 + '"\n',
        '[daemon]\nshard = "' + "x" * 3000 + '"\n',  # the message comes from parse_shard
        "[exchanges." + "x" * 3000 + "]\n",
    ],
)
def test_long_values_are_cut_in_messages(text: str) -> None:
    with pytest.raises(ConfigError) as e:
        loads(text, check_paths=False)
    assert len(str(e.value)) < MAX_MESSAGE and "...(cut)" in str(e.value)


@pytest.mark.parametrize("damage", ["\xff\xfe", "\x00"])
def test_undecodable_config_is_a_config_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "a.toml"
    path.write_bytes(b"[daemon]\n" + damage.encode("latin-1") + b"\n")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load(path)


def test_paths_checked_on_fuzzed_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the paths checked (directories created, here under a scratch directory)."""
    monkeypatch.chdir(tmp_path)
    names = st.sampled_from(["s", "d/e", "a\u0000b", "x" * 300, "f", "f/sub", "run/a.sock"])
    (tmp_path / "f").write_text("a file, not a directory")
    outcomes: Counter[str] = Counter()

    @fuzz_settings(60)
    @given(names, names, names)
    def fuzz(state: str, data: str, sock: str) -> None:
        text = (
            f"[daemon]\nstate_dir = {toml_key(state)}\n[files]\ndir = {toml_key(data)}\n"
            f"[socket]\npath = {toml_key(sock)}\n"
        )
        try:
            load_text(tmp_path / "p.toml", text)
        except ConfigError as e:
            assert str(e).startswith(str(tmp_path / "p.toml")), e
            outcomes["ConfigError"] += 1
            return
        outcomes["Config"] += 1

    fuzz()
    assert outcomes["Config"] and outcomes["ConfigError"], outcomes


def load_text(path: Path, text: str) -> Config:
    path.write_text(text)
    return load(path)
