"""BTC Markets: the public API v3 tickers, many markets per request.

``GET /v3/markets/tickers?marketId=BTC-AUD&marketId=ETH-AUD`` answers a list with one
ticker per market named (``GET /v3/markets/BTC-AUD/ticker`` answers one such object; both
are parsed), so one request per poll covers the subscribed markets, in chunks. A ticker
has the best bid and ask (no sizes), the last price, 24 h high/low, base and quote
volumes and the 24 h change ``price24h``, from which open (last - change) is derived.
Markets come from ``GET /v3/markets``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker, iso_to_ns
from ..symbols import Market
from .base import Codec, RestRequest, json_body, pair_market
from .fields import StructFields
from .schema import Num, Schema

CHUNK = 50  # markets per request
HALTED = ("Cancel Only", "Offline")  # market statuses in which nothing trades


class Row(msgspec.Struct):
    """A ticker; an error ({"code","message"}) is read through it too."""

    marketId: Any = msgspec.UNSET  # the venue's names, as sent
    bestBid: Num = None
    bestAsk: Num = None
    lastPrice: Num = None
    high24h: Num = None
    low24h: Num = None
    volume24h: Num = None
    volumeQte24h: Num = None
    price24h: Num = None  # the change over 24 h: gives the open
    timestamp: Any = None  # ISO 8601, read by iso_to_ns
    code: Any = msgspec.UNSET
    message: Any = None


ANSWER: Schema[list[Row] | Row] = Schema(list[Row] | Row)  # type: ignore[arg-type]


TICKER = StructFields(
    bid="bestBid", ask="bestAsk", last="lastPrice", change="price24h", high="high24h",
    low="low24h", volume="volume24h", quote_volume="volumeQte24h",
    ts_event=("timestamp", iso_to_ns),
)  # fmt: skip


class BTCMarkets(Codec):
    venue: ClassVar[str] = "btcmarkets"
    REST_URL: ClassVar[str] = "https://api.btcmarkets.net"
    MARKETS_URL: ClassVar[str] = "https://api.btcmarkets.net/v3/markets"
    # Spacing between chunk requests; the venue refreshes its market data once a second.
    REST_RATE: ClassVar[float] = 1.0

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        ids = [quote(m.native, safe="-") for m in markets]
        return [
            RestRequest(f"{base_url}/v3/markets/tickers?" + "&".join(f"marketId={i}" for i in c))
            for c in (ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK))
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /v3/markets/tickers?marketId=BAT-AUD: [{"marketId":"BAT-AUD",
        "bestBid":"0.3751","bestAsk":"0.377","lastPrice":"0.3769",
        "volume24h":"56192.97613335","volumeQte24h":"21179.13270465","price24h":"0.0119",
        "pricePct24h":"3.26","low24h":"0.3611","high24h":"0.3799",
        "timestamp":"2020-08-09T18:28:23.280000Z"}]
        Errors: {"code":"InvalidMarketId","message":"invalid marketId"}.
        """
        data = ANSWER(body)
        if isinstance(data, Row):
            if data.code is not msgspec.UNSET and data.marketId is msgspec.UNSET:
                raise VenueError(f"venue error {data.code}: {data.message}")
            data = [data]
        out = []
        lookup = self.lookup
        for t in data:
            if t.marketId is msgspec.UNSET:
                raise ParseError("ticker without marketId")
            m = lookup(t.marketId)
            if m is not None:
                out.append(TICKER.record(self.venue, m, t, ts_recv))
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /v3/markets: [{"marketId":"BTC-AUD","baseAssetName":"BTC",
        "quoteAssetName":"AUD","minOrderAmount":"0.00001","maxOrderAmount":"1000000",
        "amountDecimals":"8","priceDecimals":"2","status":"Online"}]
        status: Online, Post Only, Limit Only, Cancel Only or Offline."""
        return Codec.rows_at(json_body(body))

    @staticmethod
    def market_of(p: Any) -> Market | None:
        if p.get("status") in HALTED:
            return None
        base, quote_, code = p["baseAssetName"], p["quoteAssetName"], p["marketId"]
        return pair_market(base, quote_, code, ids=(code,))
