"""CEX.IO Spot Trading: the public REST API at trade.cex.io (every call a POST with JSON).

POST /api/spot/rest-public/get_ticker with {"pairs": [...]} answers the named pairs in one
object keyed by pair id ("BTC-USD"); {} answers all of them (about 900). Markets come from
get_pairs_info, documented as a POST; the markets loader sends a GET (which the venue
answers on get_server_time; not verified here) and falls back to the shipped snapshot.
The legacy GET API (cex.io/api/ticker/BTC/USD) is not used.

The documented limit is 100 points a minute per IP, one point a call, but get_ticker has
been seen refused (429) above about two calls a minute: poll it every 30 s or slower.
"last" is documented as the "last indicative price" and moves with the book; the price of
the last trade is "lastTradePrice", which is what ``last`` carries here. The payload has no
ticker time ("lastTradeDateISO" is the time of the last trade, possibly hours old), so
ts_event is null; nor any open price or size at the touch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..errors import ParseError, VenueError
from ..records import Ticker, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body

# Above this many markets, ask for all pairs rather than list them in the body.
MAX_NAMED_PAIRS = 100


class Cex(Codec):
    venue: ClassVar[str] = "cex"
    REST_URL: ClassVar[str] = "https://trade.cex.io/api/spot/rest-public"
    MARKETS_URL: ClassVar[str] = "https://trade.cex.io/api/spot/rest-public/get_pairs_info"
    # One request per poll, so poll_interval sets the pace: keep it at 30 s or more.
    REST_RATE: ClassVar[float] = 1.0

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        body: dict[str, list[str]] = {}
        if len(markets) <= MAX_NAMED_PAIRS:
            body["pairs"] = [m.native for m in markets]
        return [RestRequest(f"{base_url}/get_ticker", method="POST", json=body)]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"ok":"ok","data":{"BTC-USD":{"bestBid":"60870.5","bestAsk":"60879.5",
        "bestBidChange":"-310.2","bestBidChangePercentage":"-0.50","bestAskChange":"-301.2",
        "bestAskChangePercentage":"-0.49","low":"60450.1","high":"61599.9",
        "volume30d":"2417.72411213","lastTradeDateISO":"2024-10-11T07:09:19.823Z",
        "volume":"61.84207441","quoteVolume":"3770364.61","lastTradeVolume":"0.00165962",
        "volumeUSD":"3770364.61","last":"60879.5","lastTradePrice":"60879.5",
        "priceChange":"-301.2","priceChangePercentage":"-0.49"}}}
        volume: base, 24 h; quoteVolume: quote, 24 h. Errors: {"error":"..."}.
        """
        doc = json_body(body)
        if not isinstance(doc, dict):
            raise ParseError("expected a JSON object")
        if "error" in doc or doc.get("ok", "ok") != "ok":
            raise VenueError(f"venue error: {doc.get('error') or doc.get('ok')}")
        data = doc.get("data")
        if not isinstance(data, dict):
            raise ParseError("response without a data object")
        out = []
        for pair, t in data.items():
            m = self.lookup(pair)
            if m is None:
                continue
            if not isinstance(t, dict):
                raise ParseError(f"ticker of {pair} is not an object")
            out.append(
                Ticker(
                    "cex",
                    m.symbol,
                    m.native,
                    bid=num(t.get("bestBid")),
                    ask=num(t.get("bestAsk")),
                    last=num(t.get("lastTradePrice")),
                    high=num(t.get("high")),
                    low=num(t.get("low")),
                    volume=num(t.get("volume")),
                    quote_volume=num(t.get("quoteVolume")),
                    ts_event=None,
                    ts_recv=ts_recv,
                )
            )
        return out

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """get_pairs_info: {"ok":"ok","data":[{"base":"BTC","quote":"USD","baseMin":"0.00005",
        "baseMax":"40","baseLotSize":"0.00000001","quoteMin":"5","quoteMax":"1000000",
        "quoteLotSize":"0.01000000","basePrecision":"8","quotePrecision":"8",
        "pricePrecision":"1","minPrice":"1000","maxPrice":"500000"}, ...]}
        No status field: every listed pair trades. Ids are "BASE-QUOTE".
        """
        doc = json_body(body)
        if not isinstance(doc, dict):
            raise ParseError("expected a JSON object")
        if "error" in doc:
            raise VenueError(f"venue error: {doc['error']}")
        data = doc["data"]
        if not isinstance(data, list):
            raise ParseError("expected a data list")
        return [
            Market(
                unify(p["base"], p["quote"]),
                f"{p['base']}-{p['quote']}",
                base_id=p["base"],
                quote_id=p["quote"],
            )
            for p in data
        ]
