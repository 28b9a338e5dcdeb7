"""OKX perpetual swaps (SWAP) and dated futures (FUTURES): the v5 public WebSocket.

Spot's channels ("tickers": last, 24 h statistics, best bid and ask; "bbo-tbt": the top of
the book, tick by tick) plus the derivatives' own: "mark-price" (on change, at most every
200 ms), "funding-rate" (swaps: the current rate and when it is applied), "open-interest"
(every 3 s) and "index-tickers" (the index of the underlying, ``BTC-USDT``, one
subscription shared by the contracts on it), all merged into one record per contract. The
protocol (acks, errors, notices, the text ping) is spot OKX's.

Sizes are contracts: ``ctVal`` from the instruments list is one contract's worth, in the base
currency (``ctType`` linear) or the quote currency (inverse: base units are contracts times
ctVal over the price). ``volCcy24h`` is already in the base currency; the quote volume is
the contracts' face value for an inverse contract, and is not sent for a linear one (null).
Open interest comes as ``oiCcy``, in the base currency.

REST (the fallback): /api/v5/market/tickers, /api/v5/public/mark-price and
/api/v5/public/open-interest, each for the whole instrument type, merged like the streams.
Markets: /api/v5/public/instruments?instType=SWAP (or FUTURES), instruments "live".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ParseError
from ..records import Derivative, Ticker, best_level, ms_to_ns, times
from ..symbols import Market, MarketTable, derivative_symbol
from ..timestamps import MILLIS
from . import okx
from .base import Codec, RestRequest, answer_code, json_object
from .contracts import in_base
from .okx import OKX, subscribe_messages
from .routes import MARKET, Call, Route, TimeAt
from .schema import Num, Schema, Time

MARKET_CHANNELS = ("tickers", "bbo-tbt", "mark-price", "open-interest")


def quote_volume(vol24h: float | None, m: Market) -> float | None:
    """An inverse contract's 24 h volume in the quote currency (its contracts' worth); a
    linear one's is not sent."""
    return times(vol24h, m.contract_size) if m.inverse else None


def _route(channel: str, fields: dict[str, Any]) -> Route:
    """A channel's items, each a Derivative of its contract (the item's instId, else the
    push's), its event time "ts" in ms."""
    return Route(
        when={"arg.channel": channel}, items="data[]", market=("instId", "$.arg.instId"),
        fields={**fields, "ts_event": TimeAt("ts", MILLIS)}, record=Derivative,
        market_fields={"kind": "kind", "expiry": "expiry"},
    )  # fmt: skip


def _level(side: str, k: int) -> str:
    return f"!{side}.[only].{k}"


class Data(okx.Data):
    """One item of a push's "data", whichever the channel (or REST list) it came from:
    spot's ticker and top of book (sizes in contracts; vol24h in contracts, volCcy24h in
    the base currency) and the derivatives' channels."""

    # mark-price, funding-rate, open-interest, index-tickers
    markPx: Num = None
    fundingRate: Num = None
    fundingTime: Time = None  # ms: when the current rate is applied
    oiCcy: Num = None  # base currency
    idxPx: Num = None


class Push(okx.Push):
    """Spot's push, event or REST response, with the derivatives' data items."""

    data: list[Data] | None = None  # type: ignore[assignment]


PUSH = Schema(Push)


class OKXSwap(OKX):
    """Spot OKX's protocol (its events, its ping) with the derivatives' channels."""

    INST_TYPE: ClassVar[str] = "SWAP"
    MARKETS_URL: ClassVar[str] = "https://www.okx.com/api/v5/public/instruments?instType=SWAP"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100  # 5 or 6 channels each
    STALE_AFTER: ClassVar[float] = 10.0  # open interest every 3 s, the mark price faster
    # parse_ws's channels, read in C (index-tickers: one index for each contract on it)
    ROUTES: ClassVar[tuple[Route, ...]] = (
        _route("bbo-tbt", {
            "bid": _level("bids", 0), "ask": _level("asks", 0),
            "bid_size": Call(in_base, _level("bids", 1), MARKET, _level("bids", 0)),
            "ask_size": Call(in_base, _level("asks", 1), MARKET, _level("asks", 0)),
        }),
        _route("tickers", {
            "bid": "bidPx", "bid_size": Call(in_base, "bidSz", MARKET, "bidPx"),
            "ask": "askPx", "ask_size": Call(in_base, "askSz", MARKET, "askPx"),
            "last": "last", "open": "open24h", "high": "high24h", "low": "low24h",
            "volume": "volCcy24h", "quote_volume": Call(quote_volume, "vol24h", MARKET),
            "mark": "markPx?", "index": "idxPx?", "open_interest": "oiCcy?",
        }),
        _route("mark-price", {"mark": "markPx"}),
        _route("funding-rate", {
            "funding_rate": "fundingRate", "funding_ts": TimeAt("fundingTime", MILLIS),
        }),
        _route("open-interest", {"open_interest": "oiCcy"}),
        Route(  # an index for each contract on it (on_index: a list each); others: none
            when={"arg.channel": "index-tickers"}, items="data[]", market="instId",
            lookup="on_index", skip_unknown=True, record=Derivative,
            market_fields={"kind": "kind", "expiry": "expiry"},
            fields={"index": "idxPx", "ts_event": TimeAt("ts", MILLIS)},
        ),
    )  # fmt: skip

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        # index-tickers names the underlying ("BTC-USDT"): the contracts on each
        self.on_index: dict[str, list[Market]] = {}
        for m in table.markets:
            self.on_index.setdefault(f"{m.base_id}-{m.quote_id}", []).append(m)

    def channels(self) -> tuple[str, ...]:
        return (*MARKET_CHANNELS, "funding-rate") if self.INST_TYPE == "SWAP" else MARKET_CHANNELS

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        args = [{"channel": ch, "instId": m.native} for m in markets for ch in self.channels()]
        indexes = dict.fromkeys(f"{m.base_id}-{m.quote_id}" for m in markets)
        args += [{"channel": "index-tickers", "instId": i} for i in indexes]
        return subscribe_messages(args)

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Pushes name their channel and instrument in "arg"; "ts" is the event time, ms.

        tickers: {"arg":{"channel":"tickers","instId":"UNI-USD-SWAP"},"data":[{"instType":
          "SWAP","instId":"UNI-USD-SWAP","last":"5.123","lastSz":"100","askPx":"5.142",
          "askSz":"25","bidPx":"5.134","bidSz":"96","open24h":"4.799","high24h":"5.458",
          "low24h":"4.537","volCcy24h":"577730.7823","vol24h":"289425","ts":"1652459223143"}]}
        mark-price: {"arg":{...},"data":[{"instId":"BTC-USDT-SWAP","markPx":"42310.6",
          "ts":"1630049139746"}]}
        funding-rate: {"arg":{...},"data":[{"instId":"BTC-USD-SWAP","fundingRate":
          "0.0001875391284828","fundingTime":"1700726400000","nextFundingTime":
          "1700755200000","ts":"1700724675402",...}]}
        open-interest: {"arg":{...},"data":[{"instId":"LTC-USD-SWAP","oi":"5000",
          "oiCcy":"555.55","ts":"1597026383085"}]}
        index-tickers: {"arg":{"channel":"index-tickers","instId":"BTC-USDT"},"data":[{
          "instId":"BTC-USDT","idxPx":"0.1","ts":"1597026383085",...}]}
        bbo-tbt, events and "pong": as spot OKX's.
        """
        if raw == "pong" or raw == b"pong":
            return []
        msg = PUSH(raw)
        arg, data = msg.arg, msg.data
        if arg is not None and data is not None:
            channel = arg.channel
            if channel == "index-tickers":
                return [
                    self._record(m, ts_recv, ms_to_ns(d.ts), index=d.idxPx)
                    for d in data
                    for m in self.on_index.get(d.instId, ())
                ]
            out: list[Ticker] = []
            lookup = self.lookup
            for d in data:
                m = lookup(d.instId or arg.instId)
                if m is not None:
                    out.append(self._from(channel, m, d, ts_recv))
            return out
        return super().parse_ws(raw, ts_recv)  # events (acks, errors, notices): as spot's

    def _from(self, channel: str, m: Market, d: Data, ts_recv: int) -> Ticker:
        ts = ms_to_ns(d.ts)
        if channel == "tickers":
            return self._ticker(m, d, ts_recv, ts)
        if channel == "bbo-tbt":
            bid, bid_size = best_level(d.bids, highest=True)
            ask, ask_size = best_level(d.asks, highest=False)
            return self._record(
                m,
                ts_recv,
                ts,
                bid=bid,
                bid_size=in_base(bid_size, m, bid),
                ask=ask,
                ask_size=in_base(ask_size, m, ask),
            )
        if channel == "mark-price":
            return self._record(m, ts_recv, ts, mark=d.markPx)
        if channel == "funding-rate":
            return self._record(
                m, ts_recv, ts, funding_rate=d.fundingRate, funding_ts=ms_to_ns(d.fundingTime)
            )
        if channel == "open-interest":
            return self._record(m, ts_recv, ts, open_interest=d.oiCcy)
        return self._record(m, ts_recv, ts)  # (a channel not asked for: nothing new)

    def _ticker(self, m: Market, d: Data, ts_recv: int, ts: int | None) -> Ticker:
        """A tickers item (or a REST one, which also carries the mark and open interest)."""
        bid, ask = d.bidPx, d.askPx
        return Derivative(
            self.venue, m.symbol, m.native, bid, in_base(d.bidSz, m, bid), ask,
            in_base(d.askSz, m, ask), d.last, d.open24h, d.high24h, d.low24h, d.volCcy24h,
            quote_volume(d.vol24h, m), ts, ts_recv, 0, None, None, m.kind, m.expiry, d.markPx,
            d.idxPx, None, None, d.oiCcy,
        )  # fmt: skip

    def _record(self, m: Market, ts_recv: int, ts: int | None, **values: Any) -> Ticker:
        return Derivative(
            self.venue, m.symbol, m.native, ts_event=ts, ts_recv=ts_recv, kind=m.kind,
            expiry=m.expiry, **values,
        )  # fmt: skip

    # --- REST --------------------------------------------------------------------------
    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        kind = self.INST_TYPE
        return [
            RestRequest(f"{base_url}/api/v5/market/tickers?instType={kind}"),
            RestRequest(f"{base_url}/api/v5/public/mark-price?instType={kind}"),
            RestRequest(f"{base_url}/api/v5/public/open-interest?instType={kind}"),
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"code":"0","msg":"","data":[...]}: tickers as the tickers channel's items, the
        mark prices ({"instId":"BTC-USDT-SWAP","markPx":"200","ts":"..."}) or the open
        interest ({"instId":"BTC-USDT-SWAP","oi":"5000","oiCcy":"50","ts":"..."})."""
        msg = PUSH(body)
        answer_code(msg.code, msg.msg)
        if msg.data is None:
            raise ParseError("response without a data list")
        lookup, ticker = self.lookup, self._ticker
        return [ticker(m, d, ts_recv, ms_to_ns(d.ts)) for d in msg.data if (m := lookup(d.instId))]

    # --- markets -----------------------------------------------------------------------
    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP",
        "uly":"BTC-USDT","instFamily":"BTC-USDT","settleCcy":"USDT","ctVal":"0.01",
        "ctMult":"1","ctValCcy":"BTC","ctType":"linear","expTime":"","state":"live",...},
        {"instType":"FUTURES","instId":"BTC-USD-261225","uly":"BTC-USD","settleCcy":"BTC",
        "ctVal":"100","ctValCcy":"USD","ctType":"inverse","expTime":"1798185600000",...}]}"""
        doc = json_object(body)
        answer_code(doc.get("code"), doc.get("msg"))
        return Codec.rows_at(doc, "data")

    @classmethod
    def market_of(cls, p: Any) -> Market | None:
        if p.get("instType") != cls.INST_TYPE or p.get("state") != "live":
            return None
        base, _, quote = p["uly"].partition("-")
        inverse = p["ctType"] == "inverse"
        size = float(p["ctVal"]) * float(p.get("ctMult") or 1)
        if not size > 0:
            raise ValueError(f"contract value {p['ctVal']!r}")
        expiry = int(p["expTime"]) * 1_000_000 if cls.INST_TYPE == "FUTURES" else None
        symbol = derivative_symbol(base, quote, p["settleCcy"], expiry)
        kind = "perp" if expiry is None else "future"
        return Market(
            symbol,
            p["instId"],
            base_id=base,
            quote_id=quote,
            kind=kind,
            expiry=expiry,
            contract_size=size,
            inverse=inverse,
        )


class OKXFutures(OKXSwap):
    """The dated futures: the same channels but funding-rate, from the FUTURES list."""

    INST_TYPE: ClassVar[str] = "FUTURES"
    MARKETS_URL: ClassVar[str] = "https://www.okx.com/api/v5/public/instruments?instType=FUTURES"
    ROUTES: ClassVar[tuple[Route, ...]] = OKXSwap.ROUTES  # the swaps' frames
