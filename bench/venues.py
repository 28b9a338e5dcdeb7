"""The venues of the benchmark, as their servers speak: subscription handshakes, acks and
pongs, ticker frames in each venue's own format, and the REST markets answer; plus what a
bare client sends to subscribe the way the daemon does (the floor).

Formats follow the recorded frames in tests/fixtures/ws/ and the daemon's simulated
dialects (aggregator/sim/dialects/). Frame i carries ``i`` in a size field (the bid size
where the channel has one), so that whatever a client makes of the frame can be matched to
the time the server wrote it.

A venue with two channels (a book top and a fuller 24 h ticker) sends, to a client that
subscribed both, one ticker frame in 10 and book frames otherwise; a client that subscribed
one of them gets every frame on that one. ``okx-swap`` is OKX's perpetual swaps, the
daemon's ``perp`` kind, with the derivatives' own channels mixed in (OKXSwap).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

MARKETS_DIR = Path(__file__).resolve().parent.parent / "aggregator" / "data" / "markets"
UNIFIED = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "DOGE/USDT"]
PRICES = [64000.0, 3100.0, 150.0, 0.6, 0.15]
TICKER_EVERY = 10


@dataclass
class Conn:
    """What one client connection subscribed to, and the venue's per-connection counters."""

    path: str = "/"
    subs: set[tuple[str, str]] = field(default_factory=set)  # (channel, native)
    seq: int = 0  # Coinbase's sequence_num; Bitfinex's with SEQ_ALL
    seq_all: bool = False  # Bitfinex: the client asked for sequence numbers (conf flags)
    chan_ids: dict[str, int] = field(default_factory=dict)  # Bitfinex: native -> chanId


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def iso(ns: int, digits: int = 6) -> str:
    dt = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}000"[:digits] + "Z"


@dataclass(frozen=True)
class Frame:
    """What one frame is about: its index, market, channel and quote."""

    i: int
    native: str
    channel: str
    bid: float
    ask: float


class Venue:
    """One venue's side of the protocol; subclasses below, one per venue."""

    name = ""
    ws_path = "/"
    rest_prefix = ""  # the daemon's rest_url path (its REST polling; unused with fallback off)
    markets_path = ""  # with its query, as the daemon's markets_url
    natives: tuple[str, ...] = ()  # UNIFIED's markets, in the venue's ids
    book_channel: str | None = None
    ticker_channel = ""
    data_marker = b""  # a byte string only data frames contain (what the floor counts)
    index_field = "bid_size"  # the record's field that carries the frame index
    # the daemon's side: its exchange id, the kind of market and the symbols it follows
    exchange = ""  # (the name, unless another bench venue is the same exchange)
    kind = "spot"
    symbols: tuple[str, ...] = tuple(UNIFIED)
    cryptofeed_symbols: tuple[str, ...] = tuple(s.replace("/", "-") for s in UNIFIED)
    # native -> the record's index field for frame index 1, where it is not 1 (a derivative's
    # sizes are contracts in the frame, base units in the record: the contract size)
    index_scale: dict[str, float] = {}

    def greeting(self, conn: Conn) -> list[str]:
        return []

    def on_message(self, conn: Conn, text: str) -> list[str]:
        raise NotImplementedError

    def render(self, conn: Conn, f: Frame) -> bytes:
        raise NotImplementedError

    def subscribe_messages(self) -> list[str]:
        """What the daemon sends to subscribe UNIFIED's markets (the floor sends the same)."""
        raise NotImplementedError

    def markets_body(self) -> bytes:
        return (MARKETS_DIR / f"{self.name}.json").read_bytes()

    def rest(self, path: str) -> bytes | None:
        """The answer to a GET of path (with its query), or None for a 404."""
        if path == self.markets_path:
            return self.markets_body()
        return None

    def channel(self, i: int, chans: set[str]) -> str:
        """The channel of frame i for a client subscribed to these channels: with both, one
        ticker frame in TICKER_EVERY and book frames otherwise; else the one subscribed."""
        if self.book_channel in chans and self.ticker_channel in chans:
            ticker = i % TICKER_EVERY == TICKER_EVERY - 1
            return self.ticker_channel if ticker else self.book_channel
        return (self.ticker_channel if self.ticker_channel in chans else self.book_channel) or ""

    def plan(self, conn: Conn, n: int, now_ns: int) -> list[bytes]:
        """The payloads of frames 0..n-1 for this connection's subscriptions."""
        markets = [k for k, x in enumerate(self.natives) if any(x == s[1] for s in conn.subs)]
        markets = markets or list(range(len(self.natives)))
        chans = {c for c, _ in conn.subs}
        self.now_ns = now_ns
        out = []
        for i in range(n):
            k = markets[i % len(markets)]
            price = PRICES[k]
            bid = price + (i % 200) * price * 1e-6
            frame = Frame(i, self.natives[k], self.channel(i, chans), bid, bid + price * 1e-5)
            out.append(self.render(conn, frame))
        return out


def px(x: float) -> str:
    """A price with eight significant digits or so, as venues quote them."""
    return f"{x:.{max(2, 8 - len(str(int(x))))}f}"


class Binance(Venue):
    name, ws_path, rest_prefix = "binance", "/ws", ""
    markets_path = "/api/v3/exchangeInfo"
    natives = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")
    book_channel, ticker_channel = "bookTicker", "ticker"
    data_marker = b'"s":"'

    def on_message(self, conn: Conn, text: str) -> list[str]:
        msg = orjson.loads(text)
        if msg.get("method") != "SUBSCRIBE":
            return [dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": msg.get("id")})]
        self.add_streams(conn, msg.get("params", []))
        return [dumps({"result": None, "id": msg.get("id")})]

    def add_streams(self, conn: Conn, streams: list[str]) -> None:
        upper = {x.lower(): x for x in self.natives}
        for stream in streams:
            sym, _, ch = stream.partition("@")
            if sym.lower() in upper:
                conn.subs.add((ch, upper[sym.lower()]))

    def greeting(self, conn: Conn) -> list[str]:
        if conn.path.startswith("/stream"):  # combined streams, subscribed by the URL
            q = parse_qs(urlsplit(conn.path).query).get("streams", [""])[0]
            self.add_streams(conn, [x for x in q.split("/") if x])
        return []

    def render(self, conn: Conn, f: Frame) -> bytes:
        qty = f"{f.i}.00000000"
        px = self.p8
        if f.channel == "ticker":
            ms = self.now_ns // 1_000_000 + f.i
            data: dict[str, Any] = {
                "e": "24hrTicker", "E": ms, "s": f.native, "p": "-212.61000000",
                "P": "-0.330", "w": px(f.bid * 0.998), "x": px(f.bid * 1.003), "c": px(f.bid),
                "Q": "0.00200000", "b": px(f.bid), "B": qty, "a": px(f.ask), "A": "11.33198000",
                "o": px(f.bid * 1.005), "h": px(f.bid * 1.01), "l": px(f.bid * 0.99),
                "v": "14724.65810000", "q": "940099726.83155400", "O": ms - 86_400_000,
                "C": ms, "F": 3518000000, "L": 3519000000 + f.i, "n": 1000001,
            }  # fmt: skip
        else:
            data = {"u": 98494969448 + f.i, "s": f.native, "b": px(f.bid), "B": qty,
                    "a": px(f.ask), "A": "11.33198000"}  # fmt: skip
        if conn.path.startswith("/stream"):
            return orjson.dumps({"stream": f"{f.native.lower()}@{f.channel}", "data": data})
        return orjson.dumps(data)

    @staticmethod
    def p8(x: float) -> str:
        """Binance quotes every price and quantity with eight decimals."""
        return f"{x:.8f}"

    def subscribe_messages(self) -> list[str]:
        streams = [f"{x.lower()}@{ch}" for x in self.natives for ch in ("ticker", "bookTicker")]
        return [dumps({"method": "SUBSCRIBE", "params": streams, "id": 1})]

    def markets_body(self) -> bytes:  # the shipped snapshot has no filters, which cryptofeed reads
        body = orjson.loads(super().markets_body())
        tick = {"filterType": "PRICE_FILTER", "minPrice": "0.00000001",
                "maxPrice": "1000000.00000000", "tickSize": "0.00000001"}  # fmt: skip
        for s in body["symbols"]:
            s.setdefault("filters", [tick])
        return orjson.dumps(body)


class OKX(Venue):
    name, ws_path, rest_prefix = "okx", "/ws/v5/public", ""
    markets_path = "/api/v5/public/instruments?instType=SPOT"
    natives = ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "DOGE-USDT")
    book_channel, ticker_channel = "bbo-tbt", "tickers"
    data_marker = b'"data":['

    def on_message(self, conn: Conn, text: str) -> list[str]:
        if text == "ping":
            return ["pong"]
        msg = orjson.loads(text)
        out = []
        for arg in msg.get("args", []) if msg.get("op") == "subscribe" else []:
            conn.subs.add((arg.get("channel"), arg.get("instId")))
            out.append(dumps({"event": "subscribe", "arg": arg, "connId": "5e2a1c0f"}))
        return out or [dumps({"event": "error", "code": "60012", "msg": "Invalid request"})]

    def render(self, conn: Conn, f: Frame) -> bytes:
        ts = str(self.now_ns // 1_000_000 + f.i)
        arg = {"channel": f.channel, "instId": f.native}
        if f.channel == "bbo-tbt":
            bids, asks = [[px(f.bid), str(f.i), "0", "2"]], [[px(f.ask), "11.33198", "0", "3"]]
            book = {"asks": asks, "bids": bids, "ts": ts, "seqId": 7 * f.i}
            return orjson.dumps({"arg": arg, "data": [book]})
        t = {
            "instType": "SPOT", "instId": f.native, "last": px(f.bid), "lastSz": "0.00164251",
            "askPx": px(f.ask), "askSz": "0.15455902", "bidPx": px(f.bid), "bidSz": str(f.i),
            "open24h": px(f.bid * 1.005), "high24h": px(f.bid * 1.01), "low24h": px(f.bid * 0.99),
            "sodUtc0": px(f.bid * 1.002), "sodUtc8": px(f.bid * 1.001),
            "volCcy24h": "229576048.730317321", "vol24h": "3601.1585121", "ts": ts,
        }  # fmt: skip
        return orjson.dumps({"arg": arg, "data": [t]})

    def subscribe_messages(self) -> list[str]:
        args = [{"channel": ch, "instId": x} for x in self.natives for ch in ("tickers", "bbo-tbt")]
        return [dumps({"op": "subscribe", "args": args})]

    def rest(self, path: str) -> bytes | None:
        if path.startswith(("/api/v5/public/instruments?", "/api/v5/public/underlying?")):
            if path == self.markets_path:
                return self.markets_body()
            return b'{"code":"0","msg":"","data":[]}'  # other kinds: none here
        return None


class OKXSwap(OKX):
    """OKX's perpetual swaps on the same v5 protocol: the daemon subscribes every channel of
    its derivatives codec (tickers, bbo-tbt, mark-price, open-interest, funding-rate per
    contract, index-tickers per underlying), cryptofeed's TICKER the tickers channel. To a
    client of them all, frames go out in about the venue's proportions: bbo-tbt mostly, one
    tickers frame in 10, mark-price and index-tickers one in 20 or so each, open interest one
    in 1,000, funding one in 10,000. Sizes are contracts (``ctVal`` in the instruments list)."""

    name, exchange, kind = "okx-swap", "okx", "perp"
    markets_path = "/api/v5/public/instruments?instType=SWAP"
    natives = ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP", "XRP-USDT-SWAP",
               "DOGE-USDT-SWAP")  # fmt: skip
    symbols = tuple(f"{s}:USDT" for s in UNIFIED)
    cryptofeed_symbols = tuple(s.replace("/", "-") + "-PERP" for s in UNIFIED)
    CT_VAL = ("0.01", "0.1", "1", "100", "1000")  # OKX's contract values, base units
    TICK = ("0.1", "0.01", "0.01", "0.0001", "0.00001")
    index_scale = {n: float(v) for n, v in zip(natives, CT_VAL, strict=True)}
    CHANNELS = ("tickers", "bbo-tbt", "mark-price", "open-interest", "funding-rate")

    def channel(self, i: int, chans: set[str]) -> str:
        if "bbo-tbt" not in chans:
            return "tickers"
        # (periods prime to the 5 markets, so that each market gets each channel)
        due = ((10_007, 7, "funding-rate"), (1_001, 2, "open-interest"), (21, 4, "mark-price"),
               (19, 13, "index-tickers"), (TICKER_EVERY, TICKER_EVERY - 1, "tickers"))  # fmt: skip
        for every, at, ch in due:
            if i % every == at and ch in chans:
                return ch
        return "bbo-tbt"

    def render(self, conn: Conn, f: Frame) -> bytes:
        if f.channel == "bbo-tbt":
            return super().render(conn, f)
        ts = str(self.now_ns // 1_000_000 + f.i)
        inst, sw = f.native, {"instType": "SWAP", "instId": f.native}
        if f.channel == "tickers":
            d = {
                **sw, "last": px(f.bid), "lastSz": "3", "askPx": px(f.ask), "askSz": "215",
                "bidPx": px(f.bid), "bidSz": str(f.i), "open24h": px(f.bid * 1.005),
                "high24h": px(f.bid * 1.01), "low24h": px(f.bid * 0.99),
                "volCcy24h": "118263.48", "vol24h": "11826348", "sodUtc0": px(f.bid * 1.002),
                "sodUtc8": px(f.bid * 1.001), "ts": ts,
            }  # fmt: skip
        elif f.channel == "mark-price":
            d = {**sw, "markPx": px(f.bid * 1.00001), "ts": ts}
        elif f.channel == "index-tickers":
            inst = f.native.removesuffix("-SWAP")
            d = {"instId": inst, "idxPx": px(f.bid * 0.99998), "high24h": px(f.bid * 1.01),
                 "sodUtc0": px(f.bid * 1.002), "open24h": px(f.bid * 1.005),
                 "low24h": px(f.bid * 0.99), "sodUtc8": px(f.bid * 1.001), "ts": ts}  # fmt: skip
        elif f.channel == "open-interest":
            d = {**sw, "oi": str(2_500_000 + f.i), "oiCcy": str(25_000 + f.i / 100), "ts": ts}
        else:  # funding-rate: the next funding at the next 8-hour boundary
            nxt = (self.now_ns // 1_000_000 // 28_800_000 + 1) * 28_800_000
            d = {
                **sw, "formulaType": "noRate", "fundingRate": f"{0.0001 + f.i * 1e-9:.10f}",
                "fundingTime": str(nxt), "impactValue": "", "interestRate": "0.0001",
                "maxFundingRate": "0.0075", "method": "current_period",
                "minFundingRate": "-0.0075", "nextFundingRate": "",
                "nextFundingTime": str(nxt + 28_800_000), "premium": "-0.0000291",
                "settFundingRate": "0.0000944", "settState": "settled", "ts": ts,
            }  # fmt: skip
        return orjson.dumps({"arg": {"channel": f.channel, "instId": inst}, "data": [d]})

    def subscribe_messages(self) -> list[str]:
        """As the daemon's OKX derivatives codec: every channel per contract, then each
        underlying's index (all 30 fit one message of at most 100)."""
        args = [{"channel": ch, "instId": x} for x in self.natives for ch in self.CHANNELS]
        args += [{"channel": "index-tickers", "instId": x.removesuffix("-SWAP")}
                 for x in self.natives]  # fmt: skip
        return [dumps({"op": "subscribe", "args": args})]

    def markets_body(self) -> bytes:
        """The SWAP instruments list, in OKX's format, from the shipped snapshot's first
        linear contract: one row per market, with its contract value and tick size."""
        rows = orjson.loads((MARKETS_DIR / "okx-perp.json").read_bytes())["data"]
        like = next(r for r in rows if r["ctType"] == "linear")
        data = []
        for native, ct_val, tick in zip(self.natives, self.CT_VAL, self.TICK, strict=True):
            base, quote, _ = native.split("-")
            data.append({**like, "instId": native, "uly": f"{base}-{quote}",
                         "instFamily": f"{base}-{quote}", "settleCcy": quote, "ctVal": ct_val,
                         "ctValCcy": base, "tickSz": tick})  # fmt: skip
        return orjson.dumps({"code": "0", "msg": "", "data": data})


class Coinbase(Venue):
    name, ws_path, rest_prefix = "coinbase", "/", ""
    markets_path = "/api/v3/brokerage/market/products"
    natives = ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "DOGE-USDT")
    ticker_channel = "ticker"
    data_marker = b'"channel":"ticker"'

    def frame(self, conn: Conn, channel: str, events: list[Any], ts: str) -> bytes:
        conn.seq += 1  # consecutive per connection, over every channel
        return orjson.dumps({"channel": channel, "client_id": "", "timestamp": ts,
                             "sequence_num": conn.seq - 1, "events": events})  # fmt: skip

    def on_message(self, conn: Conn, text: str) -> list[str]:
        msg = orjson.loads(text)
        if msg.get("type") != "subscribe":
            return [dumps({"type": "error", "message": "unknown message type"})]
        ids = [x for x in msg.get("product_ids", []) if x in self.natives]
        channel = msg.get("channel", "")
        conn.subs.update((channel, x) for x in ids)
        subs = {c: sorted(x for ch, x in conn.subs if ch == c) for c, _ in conn.subs}
        if channel == "heartbeats":
            subs["heartbeats"] = ids
        events = [{"subscriptions": subs}]
        return [self.frame(conn, "subscriptions", events, iso(time.time_ns(), 9)).decode()]

    def render(self, conn: Conn, f: Frame) -> bytes:
        t = {
            "type": "ticker", "product_id": f.native, "price": px(f.bid),
            "volume_24_h": "6629.927726", "low_24_h": px(f.bid * 0.99),
            "high_24_h": px(f.bid * 1.01), "low_52_w": px(f.bid * 0.7),
            "high_52_w": px(f.bid * 1.9), "price_percent_chg_24_h": "0.03813791548644",
            "best_bid": px(f.bid), "best_ask": px(f.ask), "best_bid_quantity": str(f.i),
            "best_ask_quantity": "0.49679101",
        }  # fmt: skip
        ts = iso(self.now_ns + f.i * 1000, 9)
        return self.frame(conn, "ticker", [{"type": "update", "tickers": [t]}], ts)

    def subscribe_messages(self) -> list[str]:
        ticker = {"type": "subscribe", "product_ids": list(self.natives), "channel": "ticker"}
        return [dumps(ticker), dumps({"type": "subscribe", "channel": "heartbeats"})]

    def markets_body(self) -> bytes:  # cryptofeed reads quote_increment, which the snapshot drops
        body = orjson.loads(super().markets_body())
        for p in body["products"]:
            p.setdefault("quote_increment", "0.01")
        return orjson.dumps(body)


class Kraken(Venue):
    name, ws_path, rest_prefix = "kraken", "/v2", ""
    markets_path = "/0/public/AssetPairs"
    natives = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "DOGE/USDT")
    ticker_channel = "ticker"
    data_marker = b'"channel":"ticker","type"'

    def greeting(self, conn: Conn) -> list[str]:
        status = {"version": "2.0.10", "system": "online", "api_version": "v2",
                  "connection_id": 8423536080466635000}  # fmt: skip
        return [dumps({"channel": "status", "type": "update", "data": [status]})]

    def on_message(self, conn: Conn, text: str) -> list[str]:
        msg = orjson.loads(text)
        method, req = msg.get("method"), msg.get("req_id")
        if method == "ping":
            return [dumps({"method": "pong", "req_id": req})]
        if method != "subscribe":
            return [
                dumps({"error": f"unknown method {method}", "method": method, "success": False})
            ]
        params = msg.get("params", {})
        out = []
        for sym in params.get("symbol", []):
            conn.subs.add((params.get("channel"), sym))
            result = {"channel": params.get("channel"),
                      "event_trigger": params.get("event_trigger", "trades"),
                      "snapshot": True, "symbol": sym}  # fmt: skip
            out.append(dumps({"method": "subscribe", "req_id": req, "result": result,
                              "success": True}))  # fmt: skip
        return out

    def render(self, conn: Conn, f: Frame) -> bytes:
        t = {
            "symbol": f.native, "bid": float(px(f.bid)), "bid_qty": float(f.i),
            "ask": float(px(f.ask)), "ask_qty": 0.36977971, "last": float(px(f.bid)),
            "volume": 1020.88387727, "vwap": float(px(f.bid * 1.004)),
            "low": float(px(f.bid * 0.99)), "high": float(px(f.bid * 1.01)), "change": 0.7,
            "change_pct": 0.01, "trades": 47535, "timestamp": iso(self.now_ns + f.i * 1000),
        }  # fmt: skip
        return orjson.dumps({"channel": "ticker", "type": "update", "data": [t]})

    def subscribe_messages(self) -> list[str]:
        params = {"channel": "ticker", "symbol": list(self.natives), "event_trigger": "bbo"}
        return [dumps({"method": "subscribe", "params": params, "req_id": 1})]


def sig5(x: float) -> float:
    """A number as Bitfinex sends a price: five significant digits."""
    return float(f"{x:.5g}")


class Bitfinex(Venue):
    name, ws_path, rest_prefix = "bitfinex", "/ws/2", ""
    markets_path = "/v2/conf/pub:list:pair:exchange"
    natives = ("tBTCUST", "tETHUST", "tSOLUST", "tXRPUST", "tDOGE:UST")
    ticker_channel = "ticker"
    data_marker = b",["
    # BID_SIZE is the sum of 25 levels, which the daemon leaves out: the index is the volume
    index_field = "volume"
    SEQ_ALL = 65536

    def greeting(self, conn: Conn) -> list[str]:
        return [dumps({"event": "info", "version": 2, "serverId": "bench",
                       "platform": {"status": 1}})]  # fmt: skip

    def on_message(self, conn: Conn, text: str) -> list[str]:
        msg = orjson.loads(text)
        event = msg.get("event")
        if event == "ping":
            return [
                dumps({"event": "pong", "ts": time.time_ns() // 1_000_000, "cid": msg.get("cid")})
            ]
        if event == "conf":
            conn.seq_all = bool(msg.get("flags", 0) & self.SEQ_ALL)
            return [dumps({"event": "conf", "status": "OK", "flags": msg.get("flags", 0)})]
        symbol = msg.get("symbol", "")
        if event != "subscribe" or msg.get("channel") != "ticker" or symbol not in self.natives:
            return [dumps({"event": "error", "msg": "symbol: invalid", "code": 10300})]
        conn.subs.add(("ticker", symbol))
        chan = conn.chan_ids.setdefault(symbol, 17_000 + len(conn.chan_ids))
        return [dumps({"event": "subscribed", "channel": "ticker", "chanId": chan,
                       "symbol": symbol, "pair": symbol[1:]})]  # fmt: skip

    def render(self, conn: Conn, f: Frame) -> bytes:
        last = sig5(f.bid)
        row = [sig5(f.bid), 31.0412, sig5(f.ask), 11.33198, sig5(last * 0.005), 0.005, last,
               float(f.i), sig5(last * 1.01), sig5(last * 0.99)]  # fmt: skip
        if conn.seq_all:  # the connection's sequence number follows the payload
            conn.seq += 1
            return orjson.dumps([conn.chan_ids[f.native], row, conn.seq])
        return orjson.dumps([conn.chan_ids[f.native], row])

    def subscribe_messages(self) -> list[str]:
        return [
            dumps({"event": "subscribe", "channel": "ticker", "symbol": x}) for x in self.natives
        ]

    def rest(self, path: str) -> bytes | None:
        if path == "/v2/conf/pub:list:currency":  # what cryptofeed also reads
            pairs = orjson.loads(self.markets_body())[0]
            codes = {c for x in pairs for c in (x.split(":") if ":" in x else (x[:3], x[3:]))}
            return orjson.dumps([sorted(codes)])
        if path == "/v2/conf/pub:list:pair:futures":
            return b"[[]]"
        return super().rest(path)


class Gate(Venue):
    name, ws_path, rest_prefix = "gate", "/ws/v4/", "/api/v4"
    markets_path = "/api/v4/spot/currency_pairs"
    natives = ("BTC_USDT", "ETH_USDT", "SOL_USDT", "XRP_USDT", "DOGE_USDT")
    book_channel, ticker_channel = "spot.book_ticker", "spot.tickers"
    data_marker = b'"event":"update"'

    def frame(self, channel: str, event: str, ms: int, **fields: Any) -> str:
        return dumps({"time": ms // 1000, "time_ms": ms, "channel": channel, "event": event,
                      **fields})  # fmt: skip

    def on_message(self, conn: Conn, text: str) -> list[str]:
        msg = orjson.loads(text)
        channel, event, ms = msg.get("channel", ""), msg.get("event", ""), time.time_ns() // 10**6
        if channel == "spot.ping":
            return [self.frame("spot.pong", "", ms, result=None)]
        if channel not in (self.book_channel, self.ticker_channel) or event != "subscribe":
            error = {"code": 1, "message": "invalid argument struct"}
            return [self.frame(channel, event, ms, id=msg.get("id"), error=error, result=None)]
        pairs = msg.get("payload") or []
        conn.subs.update((channel, x) for x in pairs)
        return [self.frame(channel, event, ms, id=msg.get("id"), payload=pairs,
                           result={"status": "success"})]  # fmt: skip

    def render(self, conn: Conn, f: Frame) -> bytes:
        ms = self.now_ns // 1_000_000 + f.i
        if f.channel == "spot.book_ticker":
            result: dict[str, Any] = {"t": ms, "u": 48733182 + f.i, "s": f.native,
                                      "b": px(f.bid), "B": str(f.i), "a": px(f.ask),
                                      "A": "0.2517"}  # fmt: skip
        else:
            result = {
                "currency_pair": f.native, "last": px(f.bid), "lowest_ask": px(f.ask),
                "lowest_size": "0.2517", "highest_bid": px(f.bid), "highest_size": str(f.i),
                "change_percentage": "-0.7634", "base_volume": "1138.9062880772",
                "quote_volume": "63844439.342660318028", "high_24h": px(f.bid * 1.01),
                "low_24h": px(f.bid * 0.99),
            }  # fmt: skip
        return self.frame(f.channel, "update", ms, result=result).encode()

    def subscribe_messages(self) -> list[str]:
        now = int(time.time())
        chans = (self.ticker_channel, self.book_channel)
        return [dumps({"time": now, "id": n, "channel": ch, "event": "subscribe",
                       "payload": list(self.natives)})
                for n, ch in enumerate(chans, start=1)]  # fmt: skip


VENUES: dict[str, Callable[[], Venue]] = {
    v.name: v for v in (Binance, OKX, Coinbase, Kraken, Bitfinex, Gate, OKXSwap)
}


def venue(name: str) -> Venue:
    return VENUES[name]()


def frame_index(name: str, raw: bytes | str) -> int | None:
    """The frame index a data frame carries (the floor's latency matching), else None."""
    m = orjson.loads(raw)
    try:
        if name == "binance":
            return int(float(m.get("data", m)["B"]))
        if name in ("okx", "okx-swap"):  # (okx-swap's mark, index, funding, OI: none)
            d = m["data"][0]
            return int(d["bids"][0][1] if "bids" in d else d["bidSz"])
        if name == "coinbase":
            return int(m["events"][0]["tickers"][0]["best_bid_quantity"])
        if name == "kraken":
            return int(m["data"][0]["bid_qty"])
        if name == "bitfinex":
            return int(m[1][7])
        if name == "gate":
            r = m["result"]
            return int(r.get("B") or r["highest_size"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    raise LookupError(name)
