"""`aggregator normalize` on captures: every recorded payload accounted for, markets outside
the shipped snapshot named from their ids or a markets file, `--symbol` never relabelling,
recorders' envelopes read, payloads of another shape named in plain words."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from pathlib import Path

import orjson
import pytest

from aggregator import venues
from aggregator.adapters.registry import modes
from aggregator.capture import derive
from aggregator.errors import AggregatorError
from aggregator.normalize import normalize
from aggregator.symbols import snapshot_path

from .test_codecs import FIXTURES

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
ROOTS = [FIXTURES, *([SHARED] if SHARED.is_dir() else [])]
SUMMARY = re.compile(r"normalize \w+: (\d+) payloads: (\d+) records from (\d+); (\d+) with no")
NOWHERE = Path("/nonexistent")  # no markets cache: the shipped snapshot


def run(venue: str, mode: str, payloads: list, symbol: str | None = None, **kw: object):
    text = "\n".join(p if isinstance(p, str) else json.dumps(p) for p in payloads) + "\n"
    out, err = io.StringIO(), io.StringIO()
    rc = normalize(venue, mode, symbol, NOWHERE, io.StringIO(text), out, err, **kw)  # type: ignore[arg-type]
    return rc, [orjson.loads(x) for x in out.getvalue().splitlines()], err.getvalue()


def recorded() -> list:
    """(venue, mode, payloads, symbol) of every recorded entry: tests/fixtures and, where it
    is there, ../shared/fixtures. A REST answer that does not name its market gets the
    entry's symbol, as a user would pass it when told to."""
    cases = []
    for root in ROOTS:
        for kind in ("ws", "ws-beyond", "rest", "rest-doc", "rest-beyond"):
            for path in sorted((root / kind).glob("*.json")):
                name = {"okcoin": "okxus"}.get(path.stem, path.stem)  # OKX v5 frames
                try:
                    venue = venues.resolve(name).venue
                except AggregatorError:
                    continue  # closed venues (bitmex, bitmart...): no codec to run
                mode = "ws" if kind.startswith("ws") else "rest"
                if mode not in modes(venue):
                    continue
                for i, e in enumerate(json.loads(path.read_text())):
                    payloads = e.get("messages") if mode == "ws" else [e.get("httpResponse")]
                    if not payloads or payloads == [None]:
                        continue
                    symbol = (e.get("input") or [None])[0]
                    symbol = symbol[0] if isinstance(symbol, list) else symbol
                    where = f"{root.parent.name}/{kind}/{path.name}#{i}"
                    cases.append((where, venue, mode, payloads, symbol))
    return cases


def test_every_recorded_payload_is_accounted_for() -> None:
    """Each payload gives records, or has no ticker, or is refused with its line and why,
    or names a market reported as not identified: the summary adds up, nothing unsaid."""
    totals = Counter[str]()
    for where, venue, mode, payloads, symbol in recorded():
        rc, recs, err = run(venue, mode, payloads)
        if "pass --symbol" in err and isinstance(symbol, str):
            rc, recs, err = run(venue, mode, payloads, symbol)
        m = SUMMARY.search(err)
        assert m is not None, (where, err)
        total, nrecs, with_recs, empty = (int(x) for x in m.groups())
        refused = int(re.search(r"; (\d+) refused", err)[1]) if "refused" in err else 0  # type: ignore[index]
        lost = re.search(r"; (\d+) of markets that could not be identified", err)
        unknown = int(lost[1]) if lost else 0
        assert total == len(payloads) and nrecs == len(recs), where
        assert with_recs + empty + refused + unknown == total, (where, err)
        assert len(re.findall(r"^line \d+: ", err, re.M)) == refused, (where, err)
        assert "object has no attribute" not in err and "Error(" not in err, (where, err)
        if unknown:
            assert "ids of markets not in the markets snapshot, not records:" in err, where
        assert rc == (1 if refused or unknown or "not records" in err else 0), (where, err)
        totals.update(payloads=total, records=nrecs, refused=refused, unknown=unknown)
    assert totals["records"] > 200 and totals["payloads"] > 350, totals  # (214 of 370)


def test_markets_outside_the_snapshot_are_named_from_their_ids() -> None:
    frame = json.loads((FIXTURES / "ws" / "kucoin.json").read_text())[0]["messages"][2]
    text = json.dumps(frame)
    assert "PEPE-USDT" not in snapshot_path("kucoin").read_text()
    others = [text.replace("BTC-USDT", m) for m in ("BTC-USDT", "PEPE-USDT", "ETH-BTC")]
    rc, recs, err = run("kucoin", "ws", others)
    assert rc == 0, err
    assert [r["symbol"] for r in recs] == ["BTC/USDT", "PEPE/USDT", "ETH/BTC"]
    assert "named from their ids: PEPE/USDT (PEPE-USDT)\n" in err  # (ETH-BTC is listed)
    # --symbol is for payloads that do not name their market: the others are refused
    rc, recs, err = run("kucoin", "ws", others, "BTC/USDT")
    assert rc == 1 and [r["symbol"] for r in recs] == ["BTC/USDT"]
    assert "line 2: names market PEPE-USDT (PEPE/USDT), not BTC/USDT" in err
    assert "line 3: names market ETH-BTC (ETH/BTC), not BTC/USDT" in err


def test_a_markets_file_names_what_ids_cannot(tmp_path: Path) -> None:
    """An id no table knows and no rule reads is reported with the way to name it; the
    venue's markets response, given, names it."""
    upbit = derive("upbit", "KRW-BTC")  # Upbit's ids are QUOTE-BASE
    assert upbit is not None and upbit.symbol == "BTC/KRW"
    assert derive("hitbtc", "volume_quote") is None and derive("okx", "BTC-USDT-SWAP") is None
    book = {"u": 1, "s": "BTCXYZ", "b": "2.5", "B": "1", "a": "2.6", "A": "1"}
    rc, recs, err = run("binance", "ws", [book, book])
    assert rc == 1 and not recs
    assert "2 of markets that could not be identified" in err
    assert "not records: BTCXYZ (2); pass --markets FILE" in err
    markets = orjson.loads(snapshot_path("binance").read_bytes())
    markets["symbols"].append(
        {"symbol": "BTCXYZ", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "XYZ"}
    )
    given = tmp_path / "exchangeInfo.json"
    given.write_bytes(orjson.dumps(markets))
    rc, recs, err = run("binance", "ws", [book], markets=given)
    assert rc == 0 and [r["symbol"] for r in recs] == ["BTC/XYZ"], err
    given.write_text("<html>")
    with pytest.raises(AggregatorError, match=r"--markets .*exchangeInfo\.json.*not a binance"):
        run("binance", "ws", [book], markets=given)


def test_envelopes_and_arrays_of_tickers_are_read() -> None:
    book = {"u": 1, "s": "BTCUSDT", "b": "64117.6", "B": "1.5", "a": "64117.9", "A": "0.5"}
    ticker = {
        "e": "24hrTicker", "E": 1786538851527, "s": "ETHUSDT", "c": "3100.5", "o": "3000",
        "h": "3200", "l": "2950", "v": "10", "q": "31000", "b": "3100.4", "B": "1",
        "a": "3100.6", "A": "2",
    }  # fmt: skip
    combined = {"stream": "btcusdt@bookTicker", "data": book}
    recorded = {"recv_ts": 1786538851.5, "frame": combined}
    rc, recs, err = run("binance", "ws", [combined, [ticker, {**ticker, "s": "SOLUSDT"}], recorded])
    assert rc == 0, err
    assert [r["symbol"] for r in recs] == ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BTC/USDT"]
    assert recs[-1]["ts_recv"] == 1_786_538_851_500_000_000  # the recorder's receive time


def test_another_protocol_generation_is_named_not_a_traceback() -> None:
    v1 = [340, {"a": ["5525.4", 1, "1.0"], "b": ["5525.1", 1, "1.0"]}, "ticker", "XBT/USD"]
    rc, recs, err = run("kraken", "ws", [v1, "not json"])
    assert rc == 1 and not recs
    assert "line 1: a Kraken WebSocket v1 array (this codec reads WebSocket v2 objects)" in err
    assert "line 2: not JSON" in err
    assert "attribute" not in err and "Error(" not in err
