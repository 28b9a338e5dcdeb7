"""HTX (formerly Huobi) USDT-margined perpetual swaps: the WebSocket endpoints and the
public REST API of api.hbdm.com.

The channels are spread over three endpoints (``routes``), each connection opened once per
route and all merged into one record per contract: ``/linear-swap-ws`` carries
``market.$contract_code.bbo`` (best bid and ask, [price, contracts], on every change) and
``.detail`` (24 h statistics, on every trade); ``/ws_index`` the 1 min mark-price and index
candles (``market.$contract_code.mark_price.1min``, ``.index.1min``: their close is the
price); ``/linear-swap-notification`` the funding rate (``public.$contract_code.funding_rate``,
with the next ``settlement_time``). The first two speak the spot protocol (``htx``: gzip'd
frames, ``{"ping": ms}`` answered ``{"pong": ms}``); the notification endpoint its own
(``{"op": "sub", "topic"}``, ``{"op": "notify"}`` pushes, ``{"op": "ping"}`` answered
``{"op": "pong"}``; a push every 60 s, so that connection's staleness limit is longer). No
socket carries the open interest: polling gives it.

REST polling, every contract in each answer: ``/linear-swap-ex/market/detail/batch_merged``
(top of book and 24 h), ``/linear-swap-api/v1/swap_batch_funding_rate`` (the rate and its
``funding_time``, the next settlement), ``/linear-swap-api/v1/swap_open_interest``
(``amount``: base units) and ``/linear-swap-api/v1/swap_index``; the mark price is the
close of each contract's last 1 min mark-price candle
(``/index/market/history/linear_swap_mark_price_kline``), one request per contract.
Sizes are contracts of ``contract_size`` base units (BTC-USDT: 0.001 BTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
import orjson

from ..errors import ParseError, VenueError, VenueNotice
from ..records import EMPTY, Derivative, Ticker, ms_to_ns
from ..symbols import Market, MarketTable
from ..timestamps import MILLIS
from .base import Codec, RestRequest, gunzip, json_body
from .contracts import in_base, linear_perp
from .htx import HTX, by_channel, control, route
from .routes import MARKET, Call, Route, TimeAt
from .schema import Num, Schema, Time


class Tick(msgspec.Struct):
    """A push's tick (bbo, detail), or an item of a REST answer's list."""

    bid: list[Num] | None = None  # [price, contracts]
    ask: list[Num] | None = None
    close: Num = None
    open: Num = None
    high: Num = None
    low: Num = None
    amount: Num = None  # base volume (detail); open interest in base units (REST)
    trade_turnover: Num = None  # quote volume
    ts: Time = None
    contract_code: str = ""
    funding_rate: Num = None
    funding_time: Time = None  # ms, as a string (REST: the next settlement)
    settlement_time: Time = None  # ms, the next settlement (notification pushes)
    index_price: Num = None


class Message(msgspec.Struct):
    ch: Any = None
    ts: Time = None
    tick: Tick | None = None
    ticks: list[Tick] | None = None  # REST batch_merged
    data: list[Tick] | None = None  # REST lists
    ping: Any = msgspec.UNSET
    op: Any = None  # the notification endpoint's messages
    topic: Any = None
    status: Any = None
    id: Any = None
    err_code: Any = msgspec.field(default=None, name="err-code")
    err_msg: Any = msgspec.field(default=None, name="err-msg")


MESSAGE = Schema(Message)


def _side(level: list[Num] | None, m: Market) -> tuple[float | None, float | None]:
    """A [price, contracts] level as a price and a base-unit size; EMPTY for []."""
    if level is None:
        return None, None
    if not level:
        return EMPTY, EMPTY
    return level[0], in_base(level[1] if len(level) > 1 else None, m)


def _push(when: dict[str, str | None], lookup: str) -> Route:
    """A bbo or detail push as ``_record`` makes it: a level [price, contracts] ([]:
    parse_ws's), the fields a tick lacks null, its time the tick's or else the push's."""
    return Route(
        when={"ch": "market.*", **when}, items="tick", market="$.ch",
        lookup=lookup, record=Derivative, market_fields={"kind": "kind"},
        fields={"bid": "bid.0", "bid_size": Call(in_base, "bid.1", MARKET), "ask": "ask.0",
                "ask_size": Call(in_base, "ask.1", MARKET), "last": "close?", "open": "open?",
                "high": "high?", "low": "low?", "volume": "amount?",
                "quote_volume": "trade_turnover?", "ts_event": TimeAt(("ts?", "$.ts"), MILLIS)},
    )  # fmt: skip


# parse_ws's bbo (a tick without a close) and detail pushes, each told by its whole "ch"
# (the candles': parse_ws's), and the funding notifications
ROUTES: tuple[Route, ...] = (
    _push({"tick.close": None}, "_by_bbo"),
    _push({}, "_by_detail"),
    Route(
        when={"ch": None, "op": "notify", "topic": "*"}, items="data[]",
        market="contract_code", record=Derivative, market_fields={"kind": "kind"},
        fields={"funding_rate": "funding_rate",
                "funding_ts": TimeAt("settlement_time", MILLIS),
                "ts_event": TimeAt("$.ts", MILLIS)},
    ),
)  # fmt: skip


class HTXSwap(Codec):
    venue: ClassVar[str] = "htx"
    WS_URL: ClassVar[str] = "wss://api.hbdm.com"  # the routes add their paths
    REST_URL: ClassVar[str] = "https://api.hbdm.com"
    MARKETS_URL: ClassVar[str] = "https://api.hbdm.com/linear-swap-api/v1/swap_contract_info"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100  # two topics each
    MERGE: ClassVar[bool] = True
    # Public REST: 800 requests per second per IP over all futures APIs.
    REST_RATE: ClassVar[float] = 20.0
    ROUTES: ClassVar[tuple[Route, ...]] = ROUTES  # read in C, on every endpoint

    def __init__(self, table: MarketTable) -> None:
        super().__init__(table)
        self._by_bbo = by_channel(table, "bbo")
        self._by_detail = by_channel(table, "detail")

    @classmethod
    def routes(cls) -> tuple[type[Codec], ...]:
        return _ROUTES

    @classmethod
    def route_url(cls, base: str) -> str:
        return f"{base.rstrip('/')}/{cls.ROUTE}"

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        if self.ROUTE == NOTIFY:
            topics = [f"public.{m.native}.funding_rate" for m in markets]
            return [orjson.dumps({"op": "sub", "cid": t, "topic": t}).decode() for t in topics]
        channels = ROUTE_CHANNELS.get(self.ROUTE, ROUTE_CHANNELS["linear-swap-ws"])
        return [
            orjson.dumps({"sub": topic, "id": topic}).decode()
            for m in markets
            for topic in (f"market.{m.native}.{ch}" for ch in channels)
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Frames are gzip'd JSON (documented):
        {"ch":"market.BTC-USDT.bbo","ts":1603707934525,"tick":{"mrid":131471,
        "id":1603707934,"bid":[13064,38],"ask":[13072,3],"ts":1603707934525,
        "version":131471,"ch":"market.BTC-USDT.bbo"}}
        {"ch":"market.BTC-USDT.detail","ts":1603707934525,"tick":{"id":1603707934,
        "mrid":131471,"open":13082.6,"close":13070.1,"high":13149.9,"low":13022.6,
        "amount":"137.262","vol":137262,"trade_turnover":1795390.3062,"count":1104,
        "ask":[13072,3],"bid":[13064,38]}}
        amount is base units, vol contracts, trade_turnover USDT.
        {"ch":"market.BTC-USDT.mark_price.1min","ts":1603707934525,"tick":{"id":1603707900,
        "open":"13069.1","close":"13070.2","high":"13071","low":"13068.5","amount":"0",
        "vol":"0","count":"0","trade_turnover":"0"}} (and .index.1min, the same shape)
        {"op":"notify","topic":"public.BTC-USDT.funding_rate","ts":1603778748166,"data":[
        {"symbol":"BTC","contract_code":"BTC-USDT","fee_asset":"USDT",
        "funding_time":"1603778748166","funding_rate":"-0.000220068774978695",
        "estimated_rate":"-0.000220068774978695","settlement_time":"1603785600000"}]}
        Acks: {"id":"1","subbed":"market.GRT-USDT.trade.detail","ts":1645289384874,
        "status":"ok"} and pings {"ping":1645289389594} (recorded 2022-02-19); on the
        notification endpoint {"op":"sub","topic":...,"err-code":0} and
        {"op":"ping","ts":"1603778748166"}. Errors carry err-code and err-msg.
        """
        msg = MESSAGE(gunzip(raw))
        ch, tick = msg.ch, msg.tick
        if isinstance(ch, str):
            if (routed := route(self, ch, tick)) is None:
                return []
            m, channel, tick = routed
            ts_event = ms_to_ns(tick.ts or msg.ts)
            if channel in ("bbo", "detail"):
                return [self._record(m, tick, ts_event, ts_recv)]
            if channel == "mark_price":
                return [self._derived(m, ts_event, ts_recv, mark=tick.close)]
            if channel == "index":
                return [self._derived(m, ts_event, ts_recv, index=tick.close)]
            return []
        if msg.op is not None:
            return self._notification(msg, ts_recv)
        return control(self, msg)

    def _notification(self, msg: Message, ts_recv: int) -> list[Ticker]:
        """The notification endpoint's messages: funding pushes, pings, acks, errors."""
        if msg.op == "notify" and isinstance(msg.topic, str):
            ts_event = ms_to_ns(msg.ts)
            return [
                self._derived(
                    m, ts_event, ts_recv, funding_rate=t.funding_rate,
                    funding_ts=ms_to_ns(t.settlement_time),
                )
                for t in msg.data or ()
                if (m := self.lookup(t.contract_code)) is not None
            ]  # fmt: skip
        if msg.op == "ping":
            self.replies.append(orjson.dumps({"op": "pong", "ts": str(msg.ts)}).decode())
        elif msg.err_code not in (0, None):
            raise VenueNotice(f"{msg.op} {msg.topic} rejected: {msg.err_code}: {msg.err_msg}")
        return []

    def _record(self, m: Market, t: Tick, ts_event: int | None, ts_recv: int) -> Ticker:
        bid, bid_size = _side(t.bid, m)
        ask, ask_size = _side(t.ask, m)
        return Derivative(
            self.venue, m.symbol, m.native, bid, bid_size, ask, ask_size,
            t.close, t.open, t.high, t.low, t.amount, t.trade_turnover, ts_event, ts_recv,
            kind=m.kind,
        )  # fmt: skip

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        api = f"{base_url}/linear-swap-api/v1"
        marks = "/index/market/history/linear_swap_mark_price_kline?period=1min&size=1"
        return [
            RestRequest(f"{base_url}/linear-swap-ex/market/detail/batch_merged?business_type=swap"),
            RestRequest(f"{api}/swap_batch_funding_rate"),
            RestRequest(f"{api}/swap_open_interest?business_type=swap"),
            RestRequest(f"{api}/swap_index"),
            *(RestRequest(f"{base_url}{marks}&contract_code={m.native}", m) for m in markets),
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """(documented) batch_merged: {"status":"ok","ticks":[{"id":1603707934,
        "ts":1603707934525,"ask":[13072,3],"bid":[13064,38],"business_type":"swap",
        "contract_code":"BTC-USDT","open":"13082.6","close":"13070.1","low":"13022.6",
        "high":"13149.9","amount":"137.262","count":1104,"vol":"137262",
        "trade_turnover":"1795390.3062"}],"ts":1603707934525}
        swap_batch_funding_rate: {"status":"ok","data":[{"estimated_rate":null,
        "funding_rate":"0.000100","contract_code":"BTC-USDT","symbol":"BTC",
        "fee_asset":"USDT","funding_time":"1603872000000","next_funding_time":null}],...}
        swap_open_interest: {"status":"ok","data":[{"volume":7192610,"amount":7192.61,
        "symbol":"BTC","value":93999999.3,"contract_code":"BTC-USDT",...}],...}
        swap_index: {"status":"ok","data":[{"index_price":13069.4,
        "index_ts":1603707934000,"contract_code":"BTC-USDT"}],...}
        mark kline: {"ch":"market.BTC-USDT.mark_price.1min","status":"ok","ts":1603707934525,
        "data":[{"id":1603707900,"open":"13069.1","close":"13070.2","high":"13071",
        "low":"13068.5","amount":"0","vol":"0","trade_turnover":"0","count":"0"}]}
        Errors: {"status":"error","err_code":1014,"err_msg":"..."} (and err-code).
        """
        doc = json_body(body)
        if isinstance(doc, dict) and doc.get("status") == "error":
            code = doc.get("err_code", doc.get("err-code"))
            raise VenueError(f"venue error {code}: {doc.get('err_msg', doc.get('err-msg'))}")
        msg = MESSAGE.convert(doc)
        ts = ms_to_ns(msg.ts)
        if msg.ticks is not None:
            return [
                self._record(m, t, ms_to_ns(t.ts) or ts, ts_recv)
                for t in msg.ticks
                if (m := self.lookup(t.contract_code)) is not None
            ]
        if msg.data is None:
            raise ParseError("response without ticks or a data list")
        if isinstance(msg.ch, str) and ".mark_price." in msg.ch:  # one contract's candle
            m = self.lookup(msg.ch.split(".")[1]) or market
            if m is None or not msg.data:
                return []
            return [self._derived(m, ts, ts_recv, mark=msg.data[-1].close)]
        out: list[Ticker] = []
        for t in msg.data:
            m = self.lookup(t.contract_code)
            if m is None:
                continue
            if t.funding_rate is not None:
                out.append(
                    self._derived(
                        m, ts, ts_recv, funding_rate=t.funding_rate,
                        funding_ts=ms_to_ns(t.funding_time),
                    )
                )  # fmt: skip
            elif t.index_price is not None:
                out.append(self._derived(m, ts, ts_recv, index=t.index_price))
            elif t.amount is not None:
                out.append(self._derived(m, ts, ts_recv, open_interest=t.amount))
        return out

    def _derived(self, m: Market, ts_event: int | None, ts_recv: int, **fields: Any) -> Ticker:
        """A record of derivatives fields alone, merged onto the market's others."""
        return Derivative(
            self.venue, m.symbol, m.native, ts_event=ts_event, ts_recv=ts_recv, kind=m.kind,
            **fields,
        )  # fmt: skip

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /linear-swap-api/v1/swap_contract_info: {"status":"ok","data":[{"symbol":"BTC",
        "contract_code":"BTC-USDT","contract_size":0.001,"price_tick":0.1,
        "delivery_date":"","delivery_time":"","create_date":"20201021","contract_status":1,
        "settlement_date":"1603699200000","support_margin_mode":"all",
        "business_type":"swap","pair":"BTC-USDT","contract_type":"swap",
        "trade_partition":"USDT"}],"ts":1603699200000}
        contract_status 1 is listed (others: pending, suspended, delisting, settling...);
        only perpetual swaps (business_type "swap") are kept."""
        return Codec.rows_at(json_body(body), "data")

    @staticmethod
    def market_of(row: Any) -> Market | None:
        if row.get("contract_status") != 1 or row.get("business_type", "swap") != "swap":
            return None
        base, quote = row["contract_code"].split("-")
        native, size = row["contract_code"], float(row["contract_size"])
        return linear_perp(base, quote, native, renames=HTX.RENAMES, contract_size=size)


NOTIFY = "linear-swap-notification"
ROUTE_CHANNELS = {
    "linear-swap-ws": ("bbo", "detail"),
    "ws_index": ("mark_price.1min", "index.1min"),
}


class _Market(HTXSwap):
    ROUTE: ClassVar[str] = "linear-swap-ws"
    ROUTES: ClassVar[tuple[Route, ...]] = ROUTES  # the endpoints' frames: one parse_ws


class _Index(HTXSwap):
    ROUTE: ClassVar[str] = "ws_index"
    ROUTES: ClassVar[tuple[Route, ...]] = ROUTES


class _Notify(HTXSwap):
    ROUTE: ClassVar[str] = NOTIFY
    ROUTES: ClassVar[tuple[Route, ...]] = ROUTES
    STALE_AFTER: ClassVar[float] = 150.0  # the funding rate comes every 60 s


_ROUTES: tuple[type[Codec], ...] = (_Market, _Index, _Notify)
