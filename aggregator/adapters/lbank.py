"""LBank spot: REST polling of the 24 h ticker of every market at once.

GET /v2/ticker/24hr.do?symbol=all answers all spot markets in one response. The ticker
carries no best bid or ask and its "change" is a percentage, so bid, ask, their sizes and
the open stay null. Envelope: {"result":"true","data":[...],"error_code":0,"ts":...};
"result":"false" with an error_code is an error. Markets from /v2/accuracy.do, whose
ids look like "btc_usdt" (a few have a network suffix, like "vet_erc20_usdt").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..errors import ParseError, VenueError
from ..records import Ticker, ms_to_ns, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body

# ccxt's renames for LBank (upper-cased, as our symbols are).
RENAMES = {"HIT": "HIVER", "VET_ERC20": "VEN", "PNT": "PENTA"}


def _code(c: str) -> str:
    c = c.upper()
    return RENAMES.get(c, c)


class LBank(Codec):
    venue: ClassVar[str] = "lbank"
    REST_URL: ClassVar[str] = "https://api.lbank.info"
    MARKETS_URL: ClassVar[str] = "https://api.lbank.info/v2/accuracy.do"

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        return [RestRequest(f"{base_url}/v2/ticker/24hr.do?symbol=all")]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """{"result":"true","data":[{"symbol":"btc_usdt","ticker":{"high":"73640.51",
        "vol":"12127.5132","low":"68677.55","change":"1.77","turnover":"869993132.77",
        "latest":"73380.29"},"timestamp":"1710328237047"}],"error_code":"0",
        "ts":"1710328244598"}
        vol is in the base currency, turnover in the quote currency, change in percent.
        """
        doc = json_body(body)
        if not isinstance(doc, dict):
            raise ParseError("expected a JSON object")
        if str(doc.get("result")).lower() == "false" or str(doc.get("error_code", 0)) != "0":
            raise VenueError(f"venue error {doc.get('error_code')}: {doc.get('msg')}")
        data = doc.get("data")
        if not isinstance(data, list):
            raise ParseError("response without a data list")
        out = []
        for row in data:
            if not isinstance(row, dict):
                raise ParseError("expected ticker objects")
            m = self.lookup(row.get("symbol", ""))
            if m is None:
                continue
            t = row.get("ticker")
            if not isinstance(t, dict):
                raise ParseError(f"ticker of {m.native} is not an object")
            out.append(
                Ticker(
                    "lbank",
                    m.symbol,
                    m.native,
                    last=num(t.get("latest")),
                    high=num(t.get("high")),
                    low=num(t.get("low")),
                    volume=num(t.get("vol")),
                    quote_volume=num(t.get("turnover")),
                    ts_event=ms_to_ns(row.get("timestamp")),
                    ts_recv=ts_recv,
                )
            )
        return out

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """/v2/accuracy.do: {"result":"true","data":[{"symbol":"btc_usdt",
        "quantityAccuracy":"4","minTranQua":"0.0001","priceAccuracy":"2"}],
        "error_code":0,"ts":1691560288484}  (no status: every listed pair trades)"""
        doc = json_body(body)
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise ParseError("expected {result, data: [...]}")
        out = []
        for p in doc["data"]:
            base, quote = p["symbol"].rsplit("_", 1)
            out.append(
                Market(unify(_code(base), _code(quote)), p["symbol"], base_id=base, quote_id=quote)
            )
        return out
