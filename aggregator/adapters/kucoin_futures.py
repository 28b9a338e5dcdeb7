"""KuCoin Futures: perpetuals and dated futures on api-futures.kucoin.com.

WebSocket: the spot codec's token flow and protocol (``kucoin``: POST /api/v1/bullet-public,
welcome, pings at the server's interval) on the futures host. Topics:
``/contractMarket/tickerV2:{ids}`` (best bid and ask with their sizes, on every change; its
``ts`` is in ns), ``/contractMarket/snapshot:{ids}`` (last and 24 h statistics) and
``/contract/instrument:{ids}``, whose subject ``mark.index.price`` carries the mark and index
prices and ``funding.rate`` the current funding rate, merged. None says when funding is next
applied, nor the open interest: polling does.

REST polling: ``/api/v1/contracts/active`` (every contract: last, 24 h statistics, mark,
index, funding rate and ``nextFundingRateDateTime``, open interest) and ``/api/v1/allTickers``
(best bid and ask with sizes), merged. Sizes and open interest are lots: ``multiplier``
base units each; an inverse contract (``isInverse``) is ``|multiplier|`` USD. The markets
are the same contracts list: type FFWCSX is a perpetual, FFICSX a dated future.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Derivative, Ticker, ms_to_ns
from ..symbols import Market, MarketTable, derivative_symbol
from ..timestamps import MILLIS, epoch_to_ns
from .base import Codec, RestRequest, json_body
from .contracts import in_base
from .kucoin import MESSAGE, KuCoin, rejection, subscriptions
from .routes import EPOCH, MARKET, Call, Route, TimeAt
from .schema import Num, Schema, Time

TOPICS = ("/contractMarket/tickerV2:", "/contract/instrument:", "/contractMarket/snapshot:")
KINDS = {"FFWCSX": "perp", "FFICSX": "future"}


class Contract(msgspec.Struct):
    """A tickerV2 or instrument push's data, or a REST ticker or contract."""

    symbol: str = ""
    bestBidPrice: Num = None
    bestBidSize: Num = None  # lots
    bestAskPrice: Num = None
    bestAskSize: Num = None
    ts: Time = None  # ns (tickerV2, allTickers)
    markPrice: Num = None
    indexPrice: Num = None
    fundingRate: Num = None  # funding.rate push
    timestamp: Time = None  # ms (instrument pushes)
    # snapshot.24h (volume: base units, turnover: quote; the reverse on an inverse contract)
    lastPrice: Num = None
    price24HoursBefore: Num = None
    volume: Num = None
    turnover: Num = None
    highPrice: Num = None
    lowPrice: Num = None
    # REST contracts
    lastTradePrice: Num = None
    volumeOf24h: Num = None
    turnoverOf24h: Num = None
    fundingFeeRate: Num = None
    nextFundingRateDateTime: Time = None  # ms
    openInterest: Num = None  # lots


class Answer(msgspec.Struct):
    code: Any = None
    msg: Any = None
    data: list[Contract] | None = None


CONTRACT = Schema(Contract)
ANSWER = Schema(Answer)


def base_volume(volume: float | None, turnover: float | None, m: Market) -> float | None:
    """A snapshot's 24 h volume in the base currency: its turnover for an inverse contract
    (counted in the quote currency's contracts), its volume otherwise."""
    return turnover if m.inverse else volume


def quote_volume(volume: float | None, turnover: float | None, m: Market) -> float | None:
    """A snapshot's 24 h volume in the quote currency (base_volume's other one)."""
    return volume if m.inverse else turnover


def _push(topic: str, fields: dict[str, Any]) -> Route:
    """A push of one contract, named after the topic's ":": a Derivative of it."""
    return Route(
        when={"type": "message", "topic": topic}, items="data", market="$.topic",
        market_part=(":", 1), record=Derivative, market_fields={"kind": "kind", "expiry": "expiry"},
        fields=fields,
    )  # fmt: skip


class KuCoinFutures(KuCoin):
    REST_URL: ClassVar[str] = "https://api-futures.kucoin.com"
    MARKETS_URL: ClassVar[str] = "https://api-futures.kucoin.com/api/v1/contracts/active"
    WS_URL: ClassVar[str] = "wss://ws-api-futures.kucoin.com/"
    # Public REST: weight 2000 per 30 s; contracts/active weighs 3, allTickers 5.
    REST_RATE: ClassVar[float] = 2.0
    # parse_ws's pushes, read in C: each route needs one field sent (an empty "data" is
    # parse_ws's error); "ts" is in the unit its size says (epoch_to_ns: EPOCH)
    ROUTES: ClassVar[tuple[Route, ...]] = (
        _push("/contract/instrument:*", {
            "ts_event": TimeAt("timestamp", MILLIS), "mark": "markPrice?",
            "index": "indexPrice?", "funding_rate": "fundingRate?",
        }),
        _push("/contractMarket/tickerV2:*", {
            "bid": "bestBidPrice", "ask": "bestAskPrice?",
            "bid_size": Call(in_base, "bestBidSize?", MARKET, "bestBidPrice"),
            "ask_size": Call(in_base, "bestAskSize?", MARKET, "bestAskPrice?"),
            "ts_event": TimeAt("ts?", EPOCH),
        }),
        _push("/contractMarket/snapshot:*", {
            "last": "lastPrice", "open": "price24HoursBefore?", "high": "highPrice?",
            "low": "lowPrice?", "ts_event": TimeAt("ts?", EPOCH),
            "volume": Call(base_volume, "volume?", "turnover?", MARKET),
            "quote_volume": Call(quote_volume, "volume?", "turnover?", MARKET),
        }),
    )  # fmt: skip

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._natives: list[str] = []  # subscribed on the welcome message
        self._greeted = False

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        self._natives = [m.native for m in markets]
        return []  # sent on the welcome message

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """(documented) {"type":"message","topic":"/contractMarket/tickerV2:XBTUSDTM",
        "subject":"tickerV2","data":{"symbol":"XBTUSDTM","sequence":1638382917,
        "bestBidSize":795,"bestBidPrice":"89712.1","bestAskPrice":"89712.2",
        "bestAskSize":284,"ts":1765100000123456789}}
        {"type":"message","topic":"/contract/instrument:XBTUSDTM","subject":"mark.index.price",
        "data":{"granularity":1000,"indexPrice":89720.23,"markPrice":89716.52,
        "timestamp":1765100000000}}
        {"type":"message","topic":"/contract/instrument:XBTUSDTM","subject":"funding.rate",
        "data":{"granularity":60000,"fundingRate":-0.000296,"timestamp":1765100000000}}
        {"topic":"/contractMarket/snapshot:XBTUSDTM","type":"message","subject":"snapshot.24h",
        "data":{"highPrice":89299.9,"lastPrice":86262.6,"lowPrice":82205.2,
        "price24HoursBefore":88762.5,"priceChg":-2499.9,"priceChgPct":-0.0281,
        "symbol":"XBTUSDTM","turnover":1033552780.2532196,"volume":12062.039,
        "ts":1740643185017646670}}
        Control frames as on spot: welcome, ack, pong, error.
        """
        msg = MESSAGE(raw)
        if msg.type != "message":
            if msg.type == "welcome" and not self._greeted:
                self._greeted = True
                self.replies.extend(subscriptions(self._natives, TOPICS))
            elif msg.type == "error":
                raise rejection(msg)
            return []
        topic = msg.topic
        if not isinstance(topic, str) or not msg.data:
            raise ParseError("message without a topic or data")
        prefix, _, native = topic.partition(":")
        m = self.lookup(native)
        if m is None:
            return []
        t = CONTRACT(bytes(msg.data))
        if prefix == "/contractMarket/tickerV2":
            return [self._top(m, t, ts_recv)]
        if prefix == "/contractMarket/snapshot":
            return [
                Derivative(
                    self.venue, m.symbol, m.native, last=t.lastPrice,
                    open=t.price24HoursBefore, high=t.highPrice, low=t.lowPrice,
                    volume=base_volume(t.volume, t.turnover, m),
                    quote_volume=quote_volume(t.volume, t.turnover, m),
                    ts_event=epoch_to_ns(t.ts), ts_recv=ts_recv, kind=m.kind, expiry=m.expiry,
                )
            ]  # fmt: skip
        if prefix == "/contract/instrument":
            return [
                Derivative(
                    self.venue, m.symbol, m.native, ts_event=ms_to_ns(t.timestamp),
                    ts_recv=ts_recv, kind=m.kind, expiry=m.expiry, mark=t.markPrice,
                    index=t.indexPrice, funding_rate=t.fundingRate,
                )
            ]  # fmt: skip
        return []

    def _top(self, m: Market, t: Contract, ts_recv: int) -> Ticker:
        price = t.bestBidPrice
        return Derivative(
            self.venue, m.symbol, m.native,
            t.bestBidPrice, in_base(t.bestBidSize, m, price),
            t.bestAskPrice, in_base(t.bestAskSize, m, t.bestAskPrice),
            ts_event=epoch_to_ns(t.ts), ts_recv=ts_recv, kind=m.kind, expiry=m.expiry,
        )  # fmt: skip

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [
            RestRequest(f"{base_url}/api/v1/contracts/active"),
            RestRequest(f"{base_url}/api/v1/allTickers"),
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """(documented) /api/v1/allTickers: {"code":"200000","data":[{"sequence":1721456489271,
        "symbol":"XBTUSDTM","side":"buy","size":1,"tradeId":"1721456489263",
        "price":"67158.4","bestBidPrice":"67169.6","bestBidSize":32,"bestAskPrice":"67169.7",
        "bestAskSize":1918,"ts":1729163001780000000}]}
        /api/v1/contracts/active: the market rows (below), with lastTradePrice, highPrice,
        lowPrice, volumeOf24h (base), turnoverOf24h (quote), markPrice, indexPrice,
        fundingFeeRate, nextFundingRateDateTime (ms) and openInterest (lots).
        Errors: {"code":"400100","msg":"..."}.
        """
        doc = ANSWER(body)
        if doc.code != "200000":
            raise VenueError(f"venue error {doc.code}: {doc.msg}")
        if doc.data is None:
            raise ParseError("response without a data list")
        out: list[Ticker] = []
        for t in doc.data:
            m = self.lookup(t.symbol)
            if m is None:
                continue
            if t.ts is not None:  # a ticker
                out.append(self._top(m, t, ts_recv))
                continue
            price = t.markPrice or t.lastTradePrice
            out.append(
                Derivative(
                    self.venue, m.symbol, m.native, last=t.lastTradePrice, high=t.highPrice,
                    low=t.lowPrice, volume=t.volumeOf24h, quote_volume=t.turnoverOf24h,
                    ts_recv=ts_recv, kind=m.kind, expiry=m.expiry, mark=t.markPrice,
                    index=t.indexPrice, funding_rate=t.fundingFeeRate,
                    funding_ts=ms_to_ns(t.nextFundingRateDateTime),
                    open_interest=in_base(t.openInterest, m, price),
                )
            )  # fmt: skip
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """/api/v1/contracts/active: {"code":"200000","data":[{"symbol":"XBTUSDTM",
        "rootSymbol":"USDT","type":"FFWCSX","baseCurrency":"XBT","quoteCurrency":"USDT",
        "settleCurrency":"USDT","expireDate":null,"multiplier":0.001,"isInverse":false,
        "status":"Open",...}]}; dated futures are type FFICSX with an expireDate (ms);
        inverse ones (XBTUSDM) settle in the base currency, multiplier -1 (one USD)."""
        return Codec.rows_at(json_body(body), "data")

    @classmethod
    def market_of(cls, row: Any) -> Market | None:
        kind = KINDS.get(row.get("type"))
        if kind is None or row.get("status", "Open") != "Open":
            return None
        expiry = ms_to_ns(row["expireDate"]) if kind == "future" else None
        if kind == "future" and expiry is None:
            raise ValueError("a dated future without its expireDate")
        base, quote, settle = row["baseCurrency"], row["quoteCurrency"], row["settleCurrency"]
        return Market(
            derivative_symbol(base, quote, settle, expiry, renames=cls.RENAMES),
            row["symbol"],
            base_id=base,
            quote_id=quote,
            kind=kind,
            expiry=expiry,
            contract_size=abs(float(row["multiplier"])),
            inverse=bool(row.get("isInverse")),
        )
