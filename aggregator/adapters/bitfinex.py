"""Bitfinex spot, API v2: the public ticker channel over WebSocket, or the tickers over REST.

WebSocket (wss://api-pub.bitfinex.com/ws/2): one ``ticker`` subscription per market; the
"subscribed" event maps the channel id of the connection to the market, and data frames are
``[CHAN_ID, [BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, ..]]`` (the REST row without the
symbol), or ``[CHAN_ID, "hb"]`` heartbeats every 15 s. Info event 20051 (server restart) and
20061 (maintenance over: resubscribe) end the session so that the runner reconnects; a
connection holds at most 25 public channels. REST:
GET /v2/tickers?symbols=tBTCUSD,tETHUST (or symbols=ALL) answers every asked ticker as one
array row; a single subscribed market is asked for through /v2/ticker/{symbol}, whose row
does not name its market. Rows carry no time. BID_SIZE and ASK_SIZE are the sums of the
25 best levels, not the size at the best price, so they are not mapped; the open is last
price minus DAILY_CHANGE. Public limit: 90 requests a minute for either endpoint.
Markets come from conf/pub:list:pair:exchange (spot pairs), ids like "BTCUSD" or
"TESTBTC:TESTUSD"; requests and tickers name them with a "t" prefix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import Ticker, minus
from ..symbols import Market, MarketTable, unify
from .base import Codec, RestRequest, json_body
from .fields import StructFields
from .routes import Call, Quiet, Route
from .schema import Num, Schema

# ORS is ORS Group here, not Origin Sport; the reference's display name is no code.
LEFT_OUT = {"ORS"}
MAX_IDS_IN_URL = 100
TRADING_ROW = 10  # BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, .._RELATIVE, LAST, VOL, HIGH, LOW
# Info codes: the server restarts (reconnect), maintenance starts, maintenance ended.
INFO_RESTART, INFO_MAINTENANCE, INFO_MAINTENANCE_END = 20051, 20060, 20061


class Row(msgspec.Struct, array_like=True):
    """A trading pair's ticker row (fields it may grow at its end are left out)."""

    bid: Num
    bid_size: Num  # the 25 best levels' sum: not mapped
    ask: Num
    ask_size: Num
    daily_change: Num
    daily_change_relative: Num
    last: Num
    volume: Num
    high: Num
    low: Num


class Frame(msgspec.Struct, array_like=True):
    """[CHAN_ID, ROW or "hb", ...]: what follows (a sequence number, when the connection
    asked for them) is left out."""

    chan: int
    row: Row | str


ROW = Schema(Row)
# [CHAN_ID, "hb"]: every 15 s on each channel; before the rows' route, whose conditions hold
HEARTBEAT = Quiet({"1": "hb"})
# The frame nearly every message is, in one step; anything else (another channel's data, a
# row with a bad value) is read by _other. Strict: the venue sends JSON numbers, and a
# channel id "104" is no channel (numeric strings go to _other, which refuses them).
FRAME = msgspec.json.Decoder(Frame).decode


TICKER = StructFields(
    bid="bid", ask="ask", last="last", change="daily_change", high="high", low="low",
    volume="volume",
)  # fmt: skip


class Bitfinex(Codec):
    venue: ClassVar[str] = "bitfinex"
    WS_URL: ClassVar[str] = "wss://api-pub.bitfinex.com/ws/2"
    REST_URL: ClassVar[str] = "https://api-pub.bitfinex.com"
    MARKETS_URL: ClassVar[str] = "https://api-pub.bitfinex.com/v2/conf/pub:list:pair:exchange"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 25  # public channels per connection
    REST_RATE: ClassVar[float] = 1.0  # 90 requests a minute
    # parse_ws's [CHAN_ID, ROW] of a ticker channel of this connection, read in C
    ROUTES: ClassVar[tuple[Route, ...]] = (
        HEARTBEAT,  # first: the first route whose conditions hold reads the frame
        Route(
            when={}, market="0", lookup="_channels", market_int=True,
            fields={"bid": "1.0", "ask": "1.2", "last": "1.6",
                    "open": Call(minus, "1.6", "1.4"), "high": "1.8", "low": "1.9",
                    "volume": "1.7"},
        ),
    )  # fmt: skip
    # The reference's renames of this venue's currency codes (UST is Tether, and so on).
    RENAMES: ClassVar[dict[str, str]] = {
        "UST": "USDT",
        "ALG": "ALGO",
        "AMP": "AMPL",
        "ATO": "ATOM",
        "BCHABC": "XEC",
        "BCHN": "BCH",
        "DAT": "DATA",
        "DOG": "MDOGE",
        "DSH": "DASH",
        "EDO": "PNT",
        "EUS": "EURS",
        "EUT": "EURT",
        "IDX": "ID",
        "IOT": "IOTA",
        "IQX": "IQ",
        "LUNA": "LUNC",
        "LUNA2": "LUNA",
        "MNA": "MANA",
        "PAS": "PASS",
        "QSH": "QASH",
        "QTM": "QTUM",
        "RBT": "RBTC",
        "SNG": "SNGLS",
        "STJ": "STORJ",
        "TERRAUST": "USTC",
        "TSD": "TUSD",
        "YGG": "YEED",
        "YYW": "YOYOW",
        "UDC": "USDC",
        "VSY": "VSYS",
        "WAX": "WAXP",
        "XCH": "XCHF",
        "ZBT": "ZB",
    }

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._channels: dict[int, Market] = {}  # ticker channel id -> market, on this connection
        # Ids of the connection's other channels (trades, books, candles...): their frames
        # are not tickers, and are not data for an unknown channel either.
        self._others: set[int] = set()
        self._pending = 0  # subscriptions sent and not yet answered

    # --- WebSocket ---------------------------------------------------------------------
    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        self._pending = len(markets)
        return [
            orjson.dumps({"event": "subscribe", "channel": "ticker", "symbol": m.native}).decode()
            for m in markets
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """[104,[2504.1,89.39691507,2504.6,95.67402604,13.5,0.00541864,2504.9,22581.92240769,
        2533.2,2461.4,null]] ([CHAN_ID, ROW]: the REST row, which may grow at its end) and
        [104,"hb"] heartbeats. Events: {"event":"info","version":2,"platform":{"status":1}},
        {"event":"subscribed","channel":"ticker","chanId":104,"symbol":"tETHUST","pair":"ETHUST"},
        {"event":"error","msg":"symbol: invalid","code":10300}, {"event":"info","code":20051}.
        """
        first = raw[:1]
        if first == b"{" or first == "{":  # an event
            return self._other(json_body(raw), ts_recv)
        try:
            frame = FRAME(raw)
        except msgspec.ValidationError:
            return self._other(json_body(raw), ts_recv)
        except msgspec.DecodeError:
            json_body(raw)  # raises its ParseError
            raise
        chan, row = frame.chan, frame.row
        if isinstance(row, str):
            return self._other([chan, row], ts_recv)  # a heartbeat, or another channel's
        market = self._channels.get(chan)
        if market is None:
            if chan in self._others:
                return []
            raise ParseError(f"data for unknown channel {chan!r}")
        return [TICKER.record(self.venue, market, row, ts_recv)]

    def _other(self, msg: Any, ts_recv: int) -> list[Ticker]:
        """A frame other than a well-formed ticker row: an event, a heartbeat, another
        channel's data, or a row with a value that is not a number (BAD, as num makes it)."""
        if isinstance(msg, dict):
            return self._event(msg)
        if not isinstance(msg, list) or len(msg) < 2:
            raise ParseError("expected [channel id, payload] or an event object")
        chan, row = msg[0], msg[1]
        if row == "hb":
            return []
        market = self._channels.get(chan) if isinstance(chan, int) else None
        if market is None:
            if chan in self._others:
                return []
            raise ParseError(f"data for unknown channel {chan!r}")
        if not isinstance(row, list) or len(row) < TRADING_ROW:
            raise ParseError(f"expected a ticker row of {TRADING_ROW} fields or more")
        return [TICKER.record(self.venue, market, ROW.convert(row[:TRADING_ROW]), ts_recv)]

    def _event(self, msg: dict[str, Any]) -> list[Ticker]:
        event = msg.get("event")
        if event == "subscribed":
            self._pending -= 1
            chan = msg.get("chanId")
            if not isinstance(chan, int):
                return []
            market = self.lookup(str(msg.get("symbol", "")))
            if msg.get("channel") == "ticker" and market is not None:
                self._channels[chan] = market
            else:  # only ticker channels carry ticker rows; books and trades have others
                self._others.add(chan)
        elif event == "unsubscribed":
            chan = msg.get("chanId")
            if isinstance(chan, int):
                self._channels.pop(chan, None)
                self._others.discard(chan)
        elif event == "error":
            self._pending -= 1
            what = f"subscription rejected ({msg.get('code')}): {msg.get('msg')}"
            if self._pending <= 0 and not self._channels:  # nothing left to listen to
                raise VenueError(what)
            raise VenueNotice(what)
        elif event == "info":
            code = msg.get("code")
            if code in (INFO_RESTART, INFO_MAINTENANCE_END):
                raise VenueError(f"venue asks to reconnect ({code}): {msg.get('msg')}")
            if code == INFO_MAINTENANCE:
                raise VenueNotice(f"venue maintenance ({code}): {msg.get('msg')}")
            platform = msg.get("platform")
            if isinstance(platform, dict) and platform.get("status") == 0:
                raise VenueNotice("venue platform in maintenance")
        return []  # conf, pong, other events

    # --- REST --------------------------------------------------------------------------
    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        if len(markets) == 1:
            m = markets[0]
            return [RestRequest(f"{base_url}/v2/ticker/{quote(m.native, safe=':')}", market=m)]
        ids = "ALL" if len(markets) > MAX_IDS_IN_URL else ",".join(m.native for m in markets)
        return [RestRequest(f"{base_url}/v2/tickers?symbols={quote(ids, safe=',:')}")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """/v2/tickers: [["tBTCUST",73350,2.55279457,73351,6.36068263,1003,0.01386374,
        73350,2638.4314844,73583,68643], ["fUSD",...funding row...], ...]
        /v2/ticker/tBTCUST: the same row without the symbol.
        Errors: ["error",10020,"symbol: invalid"] or {"error":"ERR_RATE_LIMIT"}.
        """
        data = rest_rows(body)
        if data and not isinstance(data[0], list):  # one ticker: a flat row of numbers
            if market is None:
                raise ParseError("a single ticker needs its market")
            return [TICKER.record(self.venue, market, _row(data), ts_recv)]
        return [
            TICKER.record(self.venue, m, _row(row[1:]), ts_recv)
            for m, row in self.rows_followed(data)
        ]

    def rows_followed(self, rows: list[Any]) -> Iterator[tuple[Market, list[Any]]]:
        """The REST rows (spot's and the derivatives') of the markets followed, each with
        its market: rows lead with their symbol."""
        lookup = self.lookup
        for row in rows:
            if not isinstance(row, list) or not row or not isinstance(row[0], str):
                raise ParseError("expected rows starting with their symbol")
            m = lookup(row[0])
            if m is not None:
                yield m, row

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """conf/pub:list:pair:exchange: [["1INCH:USD","BTCEUR","BTCUSD","BTCUST",...]]
        (conf/pub:info:pair, [[["BTCUSD",[...]], ...]], is read as well)."""
        data = json_body(body)
        if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], list):
            raise ParseError("expected [[pair, ...]]")
        return data[0]

    @classmethod
    def market_of(cls, entry: Any) -> Market | None:
        pid = entry[0] if isinstance(entry, list) else entry
        if not isinstance(pid, str):
            raise ParseError(f"unexpected pair entry: {entry!r}")
        if pid.startswith("TEST") or "F0" in pid:  # paper trading, derivatives
            return None
        if ":" in pid:
            base_id, quote_id = pid.split(":")
        else:
            base_id, quote_id = pid[:3], pid[3:]
        if not base_id or not quote_id or base_id in LEFT_OUT or quote_id in LEFT_OUT:
            return None
        symbol = unify(base_id, quote_id, renames=cls.RENAMES)
        return Market(symbol, "t" + pid, (pid,), base_id=base_id, quote_id=quote_id)


def _row(values: list[Any]) -> Row:
    """A REST ticker row (without its symbol)."""
    if len(values) != TRADING_ROW:
        raise ParseError(f"expected a trading ticker of {TRADING_ROW} fields")
    return ROW.convert(values)


def rest_rows(body: bytes) -> list[Any]:
    """A REST answer's array (spot's and the derivatives'), or the venue's error as sent:
    ["error",10020,"symbol: invalid"] or {"error":"ERR_RATE_LIMIT"}."""
    data = json_body(body)
    if isinstance(data, dict) and "error" in data:
        raise VenueError(f"venue error: {data.get('error')}: {data.get('message', '')}")
    if not isinstance(data, list):
        raise ParseError("expected a JSON array")
    if data and data[0] == "error":
        raise VenueError(f"venue error: {data[1:]}")
    return data
