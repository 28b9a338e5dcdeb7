"""Derivatives across the daemon: the kinds config, one adapter per (venue, kind), status
records and filters that tell the kinds apart."""

from __future__ import annotations

import msgspec
import pytest

from aggregator import filters
from aggregator.adapters.registry import codec_class
from aggregator.config import kind_of, loads
from aggregator.errors import ConfigError
from aggregator.filters import FilterError
from aggregator.records import Derivative, Status, Ticker


def test_kind_of_reads_the_symbol_form() -> None:
    assert kind_of("BTC/USDT") == "spot"
    assert kind_of("BTC/USDT:USDT") == "perp"
    assert kind_of("BTC/USD:BTC") == "perp"
    assert kind_of("BTC/USDT:USDT-261225") == "future"


def test_kinds_config_makes_one_feed_per_kind_with_its_symbols() -> None:
    cfg = loads(
        """
[exchanges.gate]
kinds = ["spot", "perp"]
symbols = ["BTC/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"]
""",
        check_paths=False,
    )
    (ex,) = cfg.exchanges
    spot, perp = ex.feeds()
    assert (spot.kind, spot.symbols) == ("spot", ("BTC/USDT",))
    assert (perp.kind, perp.symbols) == ("perp", ("BTC/USDT:USDT", "ETH/USDT:USDT"))
    assert spot.stale_after == 30.0  # spot's default, unchanged
    assert perp.stale_after == codec_class("gate", "perp").STALE_AFTER
    # a kind with no symbol listed follows all its markets; the config's stale_after rules
    cfg = loads(
        '[exchanges.gate]\nkinds = ["perp"]\nstale_after = 7\n',
        check_paths=False,
    )
    (perp,) = cfg.exchanges[0].feeds()  # (gate's spot adapter not run)
    assert (perp.kind, perp.symbols, perp.stale_after) == ("perp", (), 7.0)
    # existing configs: one spot feed, the config itself
    (ex,) = loads('[exchanges.binance]\nsymbols = ["BTC/USDT"]\n', check_paths=False).exchanges
    assert ex.feeds() == (ex,) and ex.kind == "spot"


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ('kinds = ["swap"]', "exchanges.binance.kinds: expected kinds among spot"),
        ('kinds = ["option"]', "binance has no adapter for 'option' markets"),
        ('kinds = ["spot", "spot"]', "lists a kind twice"),
        ("kinds = []", "expected at least one kind"),
        ('symbols = ["BTC/USDT:USDT"]', "'BTC/USDT:USDT' is a perp symbol, but kinds = ['spot']"),
        ('symbols = ["BTC:USDT"]', "expected unified symbols"),
    ],
)
def test_bad_kinds_are_config_errors_naming_the_key(body: str, expect: str) -> None:
    with pytest.raises(ConfigError, match=r"exchanges\.binance") as e:
        loads(f"[exchanges.binance]\n{body}\n", check_paths=False)
    assert expect in str(e.value)
    with pytest.raises(ConfigError, match="bitstamp has no adapter for 'perp' markets"):
        loads('[exchanges.bitstamp]\nkinds = ["perp"]\n', check_paths=False)


def test_status_records_of_two_kinds_of_one_venue_keep_apart() -> None:
    spot = Status("binance", "live", None, None, 1, 1)
    perp = Status("binance", "live", None, None, 1, 1, kind="perp")
    perp_conn = Status("binance", "live", None, 2, 1, 1, kind="perp")
    assert spot.key() == ("status", "binance", "")  # as before kinds
    assert len({spot.key(), perp.key(), perp_conn.key()}) == 3
    assert msgspec.json.decode(msgspec.json.encode(perp))["kind"] == "perp"


def test_filters_take_kinds() -> None:
    checked = filters.check(kinds=["perp"])
    assert checked.lists()["kinds"] == ["perp"]
    assert "kinds" not in filters.check(types=["ticker"]).lists()
    f = checked.filter()
    assert f is not None
    spot = Ticker("binance", "BTC/USDT", "BTCUSDT")
    perp = Derivative("binance", "BTC/USDT:USDT", "BTCUSDT", kind="perp")
    status = Status("binance", "live", kind="perp")
    assert [f.match(r) for r in (spot, perp, status)] == [False, True, True]
    with pytest.raises(FilterError, match="kinds: unknown kind 'swap'"):
        filters.check(kinds=["swap"])
