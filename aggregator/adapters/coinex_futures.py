"""CoinEx USDT-margined perpetual futures: the v2 futures WebSocket and REST API.

The protocol is the spot one's (``coinex``: requests ``{"method", "params", "id"}``, gzip'd
frames, ``server.ping``), on ``wss://socket.coinex.com/v2/futures``. ``state.update`` adds to
the spot statistics the mark and index prices, ``open_interest_size`` (base units),
``latest_funding_rate`` (the rate of the period that ends at ``next_funding_time``) and
``next_funding_time`` (ms); ``bbo.update`` is the spot one. Both are merged. Sizes are in
the base currency (a contract is one unit); only linear contracts are followed.

REST polling: ``GET /v2/futures/ticker`` (every market, the state fields) and
``/v2/futures/depth`` per market for the best bid and ask. Markets from
``/v2/futures/market`` (status "online", contract_type "linear").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..records import Derivative, Ticker, best_level, ms_to_ns
from ..symbols import Market
from ..timestamps import MILLIS
from . import coinex
from .base import RestRequest
from .coinex import CoinEx
from .contracts import linear_perp
from .routes import Route, TimeAt
from .schema import Num, Schema, Time


class State(coinex.State):
    """One market's state: spot's statistics, and the contract's own."""

    mark_price: Num = None
    index_price: Num = None
    open_interest_size: Num = None  # base currency
    latest_funding_rate: Num = None
    next_funding_time: Time = None  # ms


class Data(coinex.Data):  # spot's, with the contract's state
    state_list: list[State] | None = None  # type: ignore[assignment]  # (narrower)


class Message(coinex.Message):
    data: Data | list[State] | None = None  # type: ignore[assignment]  # (narrower)


MESSAGE = Schema(Message)


class CoinExFutures(CoinEx):
    MARKETS_URL: ClassVar[str] = "https://api.coinex.com/v2/futures/market"
    WS_URL: ClassVar[str] = "wss://socket.coinex.com/v2/futures"
    MESSAGES: ClassVar[Schema[Any]] = MESSAGE  # spot's parsers, the contract's declarations
    ROUTES: ClassVar[tuple[Route, ...]] = (  # parse_ws's two channels' updates, read in C
        Route(
            when={"method": "bbo.update"}, items="data", market="market", record=Derivative,
            market_fields={"kind": "kind"},
            fields={"bid": "best_bid_price", "bid_size": "best_bid_size",
                    "ask": "best_ask_price", "ask_size": "best_ask_size",
                    "ts_event": TimeAt("updated_at", MILLIS)},
        ),
        Route(
            when={"method": "state.update"}, items="data.state_list[]", market="market",
            record=Derivative, market_fields={"kind": "kind"},
            fields={"last": "last", "open": "open", "high": "high", "low": "low",
                    "volume": "volume", "quote_volume": "value", "mark": "mark_price",
                    "index": "index_price", "funding_rate": "latest_funding_rate",
                    "funding_ts": TimeAt("next_funding_time?", MILLIS),
                    "open_interest": "open_interest_size"},
        ),
    )  # fmt: skip

    def _tickers(self, states: list[State], ts_recv: int) -> list[Ticker]:  # type: ignore[override]
        """state.update's items with the contract's fields; frames (documented):
        {"method":"state.update","data":{"state_list":[{"market":"ETHUSDT","last":"1892.29",
        "open":"1884.62","close":"1892.29","high":"1894.09","low":"1863.72",
        "volume":"1149.1","value":"2169004.2","volume_sell":"520.3","volume_buy":"628.8",
        "open_interest_size":"3721.94","insurance_fund_size":"0.0","mark_price":"1892.25",
        "index_price":"1892.94","latest_funding_rate":"0.00001","next_funding_rate":"0.00002",
        "latest_funding_time":1642145000000,"next_funding_time":1642174800000,
        "period":86400}]},"id":null}
        {"method":"bbo.update","data":{"market":"BTCUSDT","updated_at":1642145331234,
        "best_bid_price":"20000","best_bid_size":"0.1","best_ask_price":"20001",
        "best_ask_size":"0.15"},"id":null}
        Answers and refusals as on spot.
        """
        out: list[Ticker] = []
        for s in states:
            m = self.lookup(s.market)
            if m is None:
                continue
            out.append(
                Derivative(
                    self.venue, m.symbol, m.native, None, None, None, None,
                    s.last, s.open, s.high, s.low, s.volume, s.value, None, ts_recv,
                    kind=m.kind, mark=s.mark_price, index=s.index_price,
                    funding_rate=s.latest_funding_rate,
                    funding_ts=ms_to_ns(s.next_funding_time),
                    open_interest=s.open_interest_size,
                )
            )  # fmt: skip
        return out

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        depth = f"{base_url}/v2/futures/depth?limit=5&interval=0&market="
        return [
            *(RestRequest(depth + m.native, m) for m in markets),
            RestRequest(f"{base_url}/v2/futures/ticker"),
        ]

    def _top(self, m: Market, data: coinex.Data, ts_recv: int) -> Ticker:
        return Derivative(
            self.venue, m.symbol, m.native, data.best_bid_price, data.best_bid_size,
            data.best_ask_price, data.best_ask_size, ts_event=ms_to_ns(data.updated_at),
            ts_recv=ts_recv, kind=m.kind,
        )  # fmt: skip

    def _book(self, m: Market, book: coinex.Depth, ts_recv: int) -> Ticker:
        """GET /v2/futures/ticker: {"code":0,"data":[{"market":"BTCUSDT","last":"89712.5",
        "open":"88620.1","close":"89712.5","high":"90300","low":"88100","volume":"13740.5",
        "value":"1228963389.5","volume_sell":"6800.1","volume_buy":"6940.4",
        "open_interest_size":"8724.443","insurance_fund_size":"1000000",
        "mark_price":"89716.52","index_price":"89720.23","latest_funding_rate":"0.0001",
        "next_funding_rate":"0.000085","latest_funding_time":1765094400000,
        "next_funding_time":1765123200000,"period":86400}],"message":"OK"} (documented);
        GET /v2/futures/depth: the spot depth's shape.
        """
        bid, bid_size = best_level(book.bids, highest=True)
        ask, ask_size = best_level(book.asks, highest=False)
        return Derivative(
            self.venue, m.symbol, m.native, bid, bid_size, ask, ask_size, book.last,
            ts_event=ms_to_ns(book.updated_at), ts_recv=ts_recv, kind=m.kind,
        )  # fmt: skip

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /v2/futures/market: {"code":0,"data":[{"market":"BTCUSDT",
        "contract_type":"linear","taker_fee_rate":"0.0005","maker_fee_rate":"0.0003",
        "min_amount":"0.0001","base_ccy":"BTC","quote_ccy":"USDT","base_ccy_precision":8,
        "quote_ccy_precision":2,"tick_size":"0.1","leverage":["1","2","3","5","10","20",
        "30","50","100"],"open_interest_volume":"8724.443","is_market_available":true,
        "is_copy_trading_available":true,"status":"online"}],"message":"OK"}"""
        return CoinEx.market_rows(body)

    @classmethod
    def market_of(cls, row: Any) -> Market | None:
        if row.get("status") != "online" or row.get("contract_type") != "linear":
            return None
        base, quote = row["base_ccy"], row["quote_ccy"]
        return linear_perp(base, quote, row["market"], renames=cls.RENAMES)
