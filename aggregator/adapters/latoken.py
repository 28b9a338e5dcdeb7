"""LATOKEN (API v2): REST polling of the tickers of every pair at once.

GET /v2/ticker answers every pair in one response. LATOKEN names currencies by UUID: a
ticker carries "baseCurrency" and "quoteCurrency" ids, and its "symbol" is "BTC/USDT" in
the all-tickers list, while a single pair asked for by ids (/v2/ticker/{baseId}/{quoteId})
echoes "baseId/quoteId"; a market is known under both. The same all-tickers response is
the markets list: the venue's pairs endpoint is /v2/pair (there is no other markets call
to move to), but its rows give currency ids only, and their tags would need /v2/currency
as a second request; the tickers' "symbol" has them in one. A ticker
has best bid and ask with sizes, last, both 24 h volumes and a percentage change: no open,
high or low. Errors: {"status":"FAILURE","error":"NOT_FOUND","message":"..."}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from ..errors import VenueError
from ..records import Ticker, ms_to_ns
from ..symbols import SYMBOL_RE, Market, unify
from .base import Codec, RestRequest, json_body
from .fields import StructFields
from .schema import Num, Schema, Time


class Row(msgspec.Struct):
    """A pair's ticker (amount24h the base volume, volume24h the quote volume), or an error
    answered in its place."""

    symbol: Any = ""
    baseCurrency: Any = None
    quoteCurrency: Any = None
    bestBid: Num = None
    bestBidQuantity: Num = None
    bestAsk: Num = None
    bestAskQuantity: Num = None
    lastPrice: Num = None
    amount24h: Num = None
    volume24h: Num = None
    updateTimestamp: Time = None  # ms
    status: Any = None
    error: Any = msgspec.UNSET
    message: Any = None


ANSWER: Schema[list[Row] | Row] = Schema(list[Row] | Row)  # type: ignore[arg-type]


TICKER = StructFields(
    bid="bestBid", bid_size="bestBidQuantity", ask="bestAsk", ask_size="bestAskQuantity",
    last="lastPrice", volume="amount24h", quote_volume="volume24h",
    ts_event=("updateTimestamp", ms_to_ns),
)  # fmt: skip


class Latoken(Codec):
    venue: ClassVar[str] = "latoken"
    REST_URL: ClassVar[str] = "https://api.latoken.com"
    MARKETS_URL: ClassVar[str] = "https://api.latoken.com/v2/ticker"

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/v2/ticker")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """[{"symbol":"BTC/USDT","baseCurrency":"92151d82-df98-4d88-9a4d-284fa9eca49f",
        "quoteCurrency":"0c3a106d-bde3-4c13-a26e-3fd2394529e5",
        "volume24h":"666480039.950870978","change24h":"1.6500","amount24h":"9295.3774718",
        "lastPrice":"73369.83","bestBid":"73366.45","bestBidQuantity":"0.1929318",
        "bestAsk":"73371.68","bestAskQuantity":"0.0638319","updateTimestamp":"1710328246345",
        ...}]
        amount24h is the base volume, volume24h the quote volume. A single pair's ticker is
        the same object on its own.
        """
        doc = ANSWER(body)
        if isinstance(doc, Row):
            error = None if doc.error is msgspec.UNSET else doc.error
            if doc.status == "FAILURE" or doc.error is not msgspec.UNSET:
                raise VenueError(f"venue error {error}: {doc.message}")
            doc = [doc]
        lookup, venue = self.lookup, self.venue
        out = []
        for t in doc:
            m = lookup(t.symbol) or lookup(f"{t.baseCurrency}/{t.quoteCurrency}")
            if m is None:
                continue
            out.append(TICKER.record(venue, m, t, ts_recv))
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """The all-tickers list (see parse_rest): "symbol" gives the tags, "baseCurrency"
        and "quoteCurrency" the ids. Entries whose symbol is not two tags are skipped."""
        doc = json_body(body)
        if isinstance(doc, dict) and (doc.get("status") == "FAILURE" or "error" in doc):
            raise VenueError(f"venue error {doc.get('error')}: {doc.get('message')}")
        return Codec.rows_at(doc)

    @staticmethod
    def market_of(t: Any) -> Market | None:
        base_id, quote_id = t["baseCurrency"], t["quoteCurrency"]
        base, _, quote = t["symbol"].partition("/")
        symbol = unify(base, quote)
        if base == base_id or not SYMBOL_RE.match(symbol):
            return None  # named by ids only, or not a pair of tags
        ids = f"{base_id}/{quote_id}"
        return Market(symbol, t["symbol"], ids=(ids,), base_id=base_id, quote_id=quote_id)
