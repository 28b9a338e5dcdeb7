"""Independent Reserve: REST polling of GetMarketSummary, one request per market.

There is no all-markets summary: GET /Public/GetMarketSummary?primaryCurrencyCode=Xbt
&secondaryCurrencyCode=Aud is asked per pair, in the venue's own currency codes ("Xbt",
"Eth", "Aud"). A summary has the best bid and offer without sizes, last, the 24 h high,
low and average, the 24 h volume of the primary currency traded against this secondary
currency and the time it was made; no open and no quote volume. Errors come as HTTP 400
with {"Message":"..."}. Every primary currency trades against every secondary one, but
the venue lists the two sets on two endpoints and only one markets response is read:
MARKETS_URL gives the primaries and SECONDARIES below the secondaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar
from urllib.parse import quote

from ..errors import ParseError, VenueError
from ..records import Ticker, iso_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body

# GetValidSecondaryCurrencyCodes: ["Aud","Usd","Nzd","Sgd"]
SECONDARIES = ("Aud", "Usd", "Nzd", "Sgd")
# ccxt's renames for Independent Reserve (upper-cased, as our symbols are).
RENAMES = {"PLA": "PLAYCHIP"}


def _code(c: str) -> str:
    c = c.upper()
    return RENAMES.get(c, c)


class IndependentReserve(Codec):
    venue: ClassVar[str] = "independentreserve"
    REST_URL: ClassVar[str] = "https://api.independentreserve.com"
    MARKETS_URL: ClassVar[str] = (
        "https://api.independentreserve.com/Public/GetValidPrimaryCurrencyCodes"
    )
    # The API documentation: "The API is rate limited to 1 call per second".
    REST_RATE: ClassVar[float] = 0.9

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [
            RestRequest(
                f"{base_url}/Public/GetMarketSummary?primaryCurrencyCode="
                f"{quote(m.base_id, safe='')}&secondaryCurrencyCode={quote(m.quote_id, safe='')}",
                market=m,
            )
            for m in markets
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"CreatedTimestampUtc":"2025-05-20T04:31:07.1826412Z",
        "CurrentHighestBidPrice":164210.55,"CurrentLowestOfferPrice":164389.02,
        "DayAvgPrice":163120.87,"DayHighestPrice":165000.0,"DayLowestPrice":160911.14,
        "DayVolumeXbt":48.62170311,"DayVolumeXbtInSecondaryCurrrency":41.29310477,
        "LastPrice":164300.0,"PrimaryCurrencyCode":"Xbt","SecondaryCurrencyCode":"Aud"}
        DayVolumeXbt is the primary currency's volume over all secondary currencies;
        DayVolumeXbtInSecondaryCurrrency (sic) the part traded in this pair, in the primary.
        """
        t = json_body(body)
        if not isinstance(t, dict):
            raise ParseError("expected a JSON object")
        if "Message" in t and "LastPrice" not in t:
            raise VenueError(f"venue error: {t['Message']}")
        primary, secondary = t.get("PrimaryCurrencyCode"), t.get("SecondaryCurrencyCode")
        if not isinstance(primary, str) or not isinstance(secondary, str):
            raise ParseError("summary without its currency codes")
        m = self.lookup(f"{primary}/{secondary}")
        if m is None and market is not None:
            same = (primary.upper(), secondary.upper())
            m = market if same == (market.base_id.upper(), market.quote_id.upper()) else None
        if m is None:
            return []
        return [
            Ticker(
                "independentreserve",
                m.symbol,
                m.native,
                bid=num(t.get("CurrentHighestBidPrice")),
                ask=num(t.get("CurrentLowestOfferPrice")),
                last=num(t.get("LastPrice")),
                high=num(t.get("DayHighestPrice")),
                low=num(t.get("DayLowestPrice")),
                volume=num(t.get("DayVolumeXbtInSecondaryCurrrency")),
                ts_event=iso_to_ns(t.get("CreatedTimestampUtc")),
                ts_recv=ts_recv,
            )
        ]

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """GetValidPrimaryCurrencyCodes: ["Xbt","Eth","Sol",...], each traded against
        every one of SECONDARIES."""
        codes = json_body(body)
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ParseError("expected a list of currency codes")
        return [
            Market(unify(_code(p), _code(s)), f"{p}/{s}", base_id=p, quote_id=s)
            for p in codes
            for s in SECONDARIES
        ]
