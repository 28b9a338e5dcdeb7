"""Poloniex spot: the v3 public WebSocket and market API (api.poloniex.com).

WebSocket (wss://ws.poloniex.com/ws/public): the ``ticker`` channel carries the 24 h
statistics but no bid or ask, so the ``book`` channel (top 5 levels, each message a whole
snapshot) is subscribed too and the best bid/ask with their sizes are taken from it; a book
message yields a record only when that top changed. Both are merged into one record per
market. The API documentation says the server ends a session that sent nothing for 30 s;
the venue's current guidance is an application ping every 15 s, which meets both: the
client sends {"event":"ping"} (answered {"event":"pong"}) every 15 s. Book snapshots need
no sequence check.

REST: GET /markets/ticker24h returns the 24 h ticker of every market in one list; the
per-market /markets/{symbol}/ticker24h returns one such object. Markets: GET /markets,
those in state NORMAL (or POST_ONLY, where the book is still live). Errors come as
{"code":24101,"message":"Invalid symbol!"}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, best_level, ms_to_ns
from ..symbols import Market, MarketTable, unify
from ..timestamps import MILLIS
from .base import Codec, RestRequest, json_body
from .fields import StructFields, top_of_book
from .routes import Route, TimeAt
from .schema import Num, Schema, Time

_TRADING = ("NORMAL", "POST_ONLY")


class Item(msgspec.Struct):
    """One item of a push's "data": a 24 h ticker or a book of whole sides, one
    declaration for both so that a frame decodes in one pass."""

    symbol: Any = ""
    # ticker
    bid: Num = None
    bidQuantity: Num = None
    ask: Num = None
    askQuantity: Num = None
    close: Num = None  # the last price
    open: Num = None
    high: Num = None
    low: Num = None
    quantity: Num = None  # base volume
    amount: Num = None  # quote volume
    # book: levels of [price, size], best first
    bids: list[list[Num]] | None = None
    asks: list[list[Num]] | None = None
    createTime: Time = None  # ms
    ts: Time = None  # ms


class Message(msgspec.Struct):
    """A push ({"channel", "data"}) or an event ({"event", "channel"}, {"event", "message"})."""

    channel: Any = None
    data: list[Item] | None = None
    event: Any = msgspec.UNSET
    message: Any = None


MESSAGE = Schema(Message)
ITEMS = Schema(list[Item])  # the REST tickers


TICKER = StructFields(
    bid="bid", bid_size="bidQuantity", ask="ask", ask_size="askQuantity", last="close",
    open="open", high="high", low="low", volume="quantity", quote_volume="amount",
    ts_event=("ts", ms_to_ns),
)  # fmt: skip


class Poloniex(Codec):
    venue: ClassVar[str] = "poloniex"
    # ccxt's renames for Poloniex currency codes (the part of its commonCurrencies that are
    # codes, not names).
    RENAMES: ClassVar[dict[str, str]] = {
        "STR": "XLM",
        "REPV2": "REP",
        "SOC": "SOCC",
        "UST": "USTC",
        "GPUC": "GPU",
        "ETHTRON": "ETH",
        "TRXETH": "TRX",
        "USDTTRON": "USDT",
        "USDTETH": "USDT",
        "USDTBSC": "USDT",
    }
    REST_URL: ClassVar[str] = "https://api.poloniex.com"
    MARKETS_URL: ClassVar[str] = "https://api.poloniex.com/markets"
    REST_RATE: ClassVar[float] = 5.0  # one request per poll covers every market
    WS_URL: ClassVar[str] = "wss://ws.poloniex.com/ws/public"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100  # no documented cap; 500 requests/s
    APP_PING_INTERVAL: ClassVar[float | None] = 15.0
    MERGE: ClassVar[bool] = True
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's ticker channel, read in C
        Route(  # the channel sends no bid or ask (REST's tickers do)
            when={"channel": "ticker", "event": None}, items="data[]", market="symbol",
            fields={"bid": "bid?", "bid_size": "bidQuantity?", "ask": "ask?",
                    "ask_size": "askQuantity?", "last": "close", "open": "open", "high": "high",
                    "low": "low", "volume": "quantity", "quote_volume": "amount",
                    "ts_event": TimeAt("ts", MILLIS)},
        ),
    )  # fmt: skip

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._acked = False  # a subscription was confirmed on this connection
        self._tops: dict[str, tuple[float | None, ...]] = {}  # native -> last top of book emitted

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        ids = [m.native for m in markets]
        msg = {"event": "subscribe", "channel": ["ticker", "book"], "symbols": ids}
        return [orjson.dumps(msg).decode()]

    def app_ping(self) -> str | None:
        return '{"event":"ping"}'

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"channel":"ticker","data":[{"symbol":"BTC_USDT","startTime":1786527780000,
        "open":"64041.88","high":"64472.46","low":"63309.75","close":"63710.73",
        "quantity":"3509.232507","amount":"223627684.81842926","tradeCount":220183,
        "dailyChange":"-0.0052","markPrice":"63683.64","closeTime":1786614215449,
        "ts":1786614216233}]}
        {"channel":"book","data":[{"symbol":"BTC_USDT","createTime":1694469187745,
        "asks":[["25157.24","0.444294"],...],"bids":[["25148.61","0.046041"],...],
        "id":598273384,"ts":1694469187733}]}
        Acks {"event":"subscribe","channel":"ticker","symbols":["BTC_USDT"]},
        {"event":"pong"}, errors {"event":"error","message":"..."}.
        """
        msg = MESSAGE(raw)
        channel, event = msg.channel, msg.event
        if channel in ("ticker", "book") and event is msgspec.UNSET:
            if msg.data is None:
                raise ParseError(f"{channel} message without a data list")
            parse = self._ticker if channel == "ticker" else self._book
            return [r for t in msg.data if (r := parse(t, ts_recv)) is not None]
        if event == "subscribe":
            self._acked = True
        elif event == "error":
            text = f"venue error: {msg.message}"
            # One message subscribes everything: refused before any ack, the session is idle.
            raise VenueNotice(text) if self._acked else VenueError(text)
        return []

    def _book(self, b: Item, ts_recv: int) -> Ticker | None:
        m = self.lookup(str(b.symbol))
        if m is None:
            return None
        bid, bid_size = best_level(b.bids, highest=True)
        ask, ask_size = best_level(b.asks, highest=False)
        top = (bid, bid_size, ask, ask_size)
        if self._tops.get(m.native) == top:
            return None
        self._tops[m.native] = top
        return top_of_book(self.venue, m, top, ts_recv, ms_to_ns(b.createTime or b.ts))

    def _ticker(self, t: Item, ts_recv: int) -> Ticker | None:
        """A 24 h ticker of the REST API or the ticker channel (the latter without bid/ask)."""
        m = self.lookup(t.symbol)
        if m is None:
            return None
        return TICKER.record(self.venue, m, t, ts_recv)

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/markets/ticker24h")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """[{"symbol":"BTC_USDT","open":"72144.71","low":"68715.75","high":"73562.48",
        "close":"73380.47","quantity":"2626.111269","amount":"188276700.82567151",
        "tradeCount":143700,"startTime":1710241800000,"closeTime":1710328237713,
        "displayName":"BTC/USDT","dailyChange":"0.0171","bid":"73354.86",
        "bidQuantity":"0.022699","ask":"73392.83","askQuantity":"0.266277",
        "ts":1710328238600,"markPrice":"73370.07"}, ...]
        quantity is the base volume, amount the quote volume; ts the ticker's time.
        """
        data = json_body(body)
        if isinstance(data, dict):
            if "symbol" not in data:
                if "code" in data or "message" in data:
                    raise VenueError(f"venue error {data.get('code')}: {data.get('message')}")
                raise ParseError("expected a ticker object")
            data = [data]
        if not isinstance(data, list):
            raise ParseError("expected a list of tickers")
        return [r for t in ITEMS.convert(data) if (r := self._ticker(t, ts_recv)) is not None]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """[{"symbol":"BTC_USDT","baseCurrencyName":"BTC","quoteCurrencyName":"USDT",
        "displayName":"BTC/USDT","state":"NORMAL","visibleStartTime":1659018819512,
        "tradableStartTime":1659018819512,"symbolTradeLimit":{...},"crossMargin":{...}}]"""
        return Codec.rows_at(json_body(body))

    @classmethod
    def market_of(cls, p: Any) -> Market | None:
        if p.get("state") not in _TRADING:
            return None
        base, quote = p["baseCurrencyName"], p["quoteCurrencyName"]
        symbol = unify(base, quote, renames=cls.RENAMES)
        return Market(symbol, p["symbol"], base_id=base, quote_id=quote)
