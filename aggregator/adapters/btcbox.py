"""BTCBOX: the public API v1 tickers, all markets in one request.

``GET /api/v1/tickers`` answers an object keyed by market ("BTC_JPY") with the best bid
(``buy``) and ask (``sell``), the last price and the 24 h high, low and base volume; no
sizes, no open, no timestamp. The venue has no separate markets endpoint, so the same
response serves as the markets list (every key is a JPY spot market).
``GET /api/v1/ticker?coin=eth`` answers one such object for one coin (also parsed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import ParseError, VenueError
from ..records import Ticker
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body, json_object
from .fields import StructFields
from .schema import Num, Schema


class Row(msgspec.Struct):
    buy: Num = None  # the bid
    sell: Num = None  # the ask
    last: Num = None
    high: Num = None
    low: Num = None
    vol: Num = None  # base volume, 24 h
    volume: Num = None  # quote volume, where sent


# The declared decoder alone: schema.py's permissive twin takes an object keyed by market as
# sent, so an answer with a bad value (or of another shape) is read by _read_as_sent.
TICKERS = msgspec.json.Decoder(dict[str, Row], strict=False).decode
ROW = Schema(Row)


TICKER = StructFields(
    bid="buy", ask="sell", last="last", high="high", low="low", volume="vol", quote_volume="volume"
)


class BTCBox(Codec):
    venue: ClassVar[str] = "btcbox"
    REST_URL: ClassVar[str] = "https://www.btcbox.co.jp"
    MARKETS_URL: ClassVar[str] = "https://www.btcbox.co.jp/api/v1/tickers"
    # No published limit for public calls; one request per poll covers every market.
    REST_RATE: ClassVar[float] = 1.0

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/api/v1/tickers")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """GET /api/v1/tickers: {"BTC_JPY":{"high":2829667,"low":2759378,"buy":2774453,
        "sell":2777955,"last":2774210,"vol":566.6947},"ETH_JPY":{...}}
        vol is the 24 h base volume; "volume" (quote volume), where a ticker has it, is
        used too. Errors: {"result":false,"code":"..."}.
        """
        try:
            tickers = TICKERS(body)
        except msgspec.MsgspecError:  # a bad value, one coin, a row not an object, not JSON
            return self._read_as_sent(body, ts_recv, market)
        lookup = self.lookup
        return [
            TICKER.record(self.venue, m, t, ts_recv)
            for key, t in tickers.items()
            if (m := lookup(key)) is not None
        ]

    def _read_as_sent(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """An answer that is not all tickers keyed by market: read as an object, each ticker
        declared on its own, so that a row that is not an object drops only itself (unless
        it is of a market followed)."""
        data = json_object(body)
        if data.get("result") is False:
            raise VenueError(f"venue error {data.get('code')}")
        if "last" in data and not isinstance(data["last"], dict):
            # one coin's ticker (GET /api/v1/ticker?coin=btc), not the keyed list
            if market is None:
                raise ParseError("a coin ticker needs its market")
            return [TICKER.record(self.venue, market, ROW.convert(data), ts_recv)]
        return [TICKER.record(self.venue, m, ROW.convert(t), ts_recv) for t, m in self.keyed(data)]

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """GET /api/v1/tickers (as above): each key "BASE_QUOTE" is a market; its coin
        parameter (``?coin=btc``) is the lower-case base."""
        return Codec.entries_at(json_body(body), expected="an object keyed by market")

    @staticmethod
    def market_of(row: Any) -> Market | None:
        key, t = row
        base, _, quote_ = key.partition("_")
        if not base or not quote_ or not isinstance(t, dict):
            raise ParseError(f"not a BASE_QUOTE key with a ticker object: {key!r}")
        return Market(unify(base, quote_), key, (key,), base.lower(), quote_.lower())
