"""bitFlyer Crypto CFD (FX_BTC_JPY): the Realtime API's ticker channel, or the HTTP API's
ticker and funding rate, polled.

Lightning FX became "bitFlyer Crypto CFD" on 2024-03-28 under the same product code: a
one-day contract rolled over every business day, with a funding rate (and no more SFD).
It has no expiry for a holder, so it is followed as a perpetual (``BTC/JPY:JPY``). The
protocol is the spot one's (``bitflyer``); the ticker's sizes and volume are in BTC. The
venue publishes no mark price, index or open interest. Its funding rate comes only from
``GET /v1/getfundingrate?product_code=FX_BTC_JPY`` ({"current_funding_rate",
"next_funding_rate_settledate"}, UTC), so a stream leaves it null and polling fills it.
Markets: ``GET /v1/getmarkets``, the rows of market_type "FX" (or "CFD"). The dated
Lightning Futures (BTCJPYddMMMyyyy) are not followed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar
from urllib.parse import quote

from ..errors import ParseError, VenueError
from ..records import Derivative, Ticker, iso_to_ns
from ..symbols import Market
from .base import RestRequest, json_body
from .bitflyer import CALL, Bitflyer, Tick
from .contracts import linear_perp
from .routes import Route
from .schema import Num, Schema, Time

CFD_TYPES = ("FX", "CFD")


class Answer(Tick):
    """An HTTP API answer: a ticker (spot's), a funding rate or an error."""

    current_funding_rate: Num = None
    next_funding_rate_settledate: Any = None
    status: Time = None
    error_message: Any = None


ANSWER = Schema(Answer)


class BitflyerCFD(Bitflyer):
    MERGE: ClassVar[bool] = True  # the funding rate, polled apart
    # 500 requests per 5 minutes per IP for all calls; a poll makes two per market.
    REST_RATE: ClassVar[float] = 1.0
    # spot's ticker channelMessage route, making the CFD's records: read in C
    ROUTES: ClassVar[tuple[Route, ...]] = tuple(
        replace(r, record=Derivative, market_fields={"kind": "kind"}) for r in Bitflyer.ROUTES
    )

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":
        "lightning_ticker_FX_BTC_JPY","message":{"product_code":"FX_BTC_JPY",
        "state":"RUNNING","timestamp":"2021-12-12T23:05:30.1371457Z","tick_id":127090247,
        "best_bid":5859870.0,"best_ask":5862038.0,"best_bid_size":0.04,"best_ask_size":0.02,
        "total_bid_depth":228.9605835,"total_ask_depth":295.47859356,"market_bid_size":0.0,
        "market_ask_size":0.0,"ltp":5860832.0,"volume":4226.3508901,
        "volume_by_product":4226.3508901}}} (recorded 2021-12-12); answers as on spot.
        """
        msg = CALL(raw)
        if msg.method != "channelMessage":
            return super().parse_ws(raw, ts_recv)  # answers and refusals
        found = self.channel_ticker(msg.params)
        return [] if found is None else [self._ticker(*found, ts_recv)]

    def _ticker(self, m: Market, t: Tick, ts_recv: int) -> Ticker:
        return Derivative(
            self.venue, m.symbol, m.native, t.best_bid, t.best_bid_size, t.best_ask,
            t.best_ask_size, t.ltp, None, None, None, t.volume_by_product, None,
            iso_to_ns(t.timestamp), ts_recv, kind=m.kind,
        )  # fmt: skip

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        out = []
        for m in markets:
            code = quote(m.native, safe="")
            out.append(RestRequest(f"{base_url}/v1/getticker?product_code={code}", m))
            out.append(RestRequest(f"{base_url}/v1/getfundingrate?product_code={code}", m))
        return out

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /v1/getticker?product_code=FX_BTC_JPY: the spot ticker's shape
        (timestamp in UTC without a zone). GET /v1/getfundingrate?product_code=FX_BTC_JPY:
        {"current_funding_rate":-0.00375,"next_funding_rate_settledate":"2026-12-07T09:00:00"}
        (documented). Errors: {"status":-1,"error_message":"...","data":null}.
        """
        if not isinstance(json_body(body), dict):
            raise ParseError("expected a JSON object")
        a = ANSWER(body)
        if a.error_message is not None:
            raise VenueError(f"venue error {a.status}: {a.error_message}")
        if market is None:
            raise ParseError("a product's answer needs its market")
        if a.product_code not in (None, market.native):
            raise ParseError(f"answer for {a.product_code} to a request for {market.native}")
        if a.current_funding_rate is not None:
            funding_ts = iso_to_ns(a.next_funding_rate_settledate)  # UTC, without a zone
            return [
                Derivative(
                    self.venue, market.symbol, market.native, ts_recv=ts_recv,
                    kind=market.kind, funding_rate=a.current_funding_rate,
                    funding_ts=funding_ts,
                )
            ]  # fmt: skip
        if a.ltp is None and a.best_bid is None:
            raise ParseError("ticker without prices")
        return [self._ticker(market, a, ts_recv)]

    @staticmethod
    def market_of(p: Any) -> Market | None:
        code = p["product_code"]
        if p.get("market_type") not in CFD_TYPES:
            return None
        _, base, quote_ = code.split("_")  # FX_BTC_JPY
        return linear_perp(base, quote_, code, ids=(code,))
