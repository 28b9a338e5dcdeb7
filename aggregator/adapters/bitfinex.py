"""Bitfinex spot, API v2: the public tickers, polled over REST.

GET /v2/tickers?symbols=tBTCUSD,tETHUST (or symbols=ALL) answers every asked ticker as one
array row; a single subscribed market is asked for through /v2/ticker/{symbol}, whose row
does not name its market. Rows carry no time. BID_SIZE and ASK_SIZE are the sums of the
25 best levels, not the size at the best price, so they are not mapped; the open is last
price minus DAILY_CHANGE. Public limit: 90 requests a minute for either endpoint.
Markets come from conf/pub:list:pair:exchange (spot pairs), ids like "BTCUSD" or
"TESTBTC:TESTUSD"; requests and tickers name them with a "t" prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

from ..errors import ParseError, VenueError
from ..records import Ticker, num
from ..symbols import Market, unify
from .base import Codec, RestRequest, json_body

# The reference's renames of this venue's currency codes (UST is Tether, and so on).
RENAMES = {
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
# ORS is ORS Group here, not Origin Sport; the reference's display name is no code.
LEFT_OUT = {"ORS"}
MAX_IDS_IN_URL = 100
TRADING_ROW = 10  # BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, .._RELATIVE, LAST, VOL, HIGH, LOW


class Bitfinex(Codec):
    venue: ClassVar[str] = "bitfinex"
    REST_URL: ClassVar[str] = "https://api-pub.bitfinex.com"
    MARKETS_URL: ClassVar[str] = "https://api-pub.bitfinex.com/v2/conf/pub:list:pair:exchange"
    REST_RATE: ClassVar[float] = 1.0  # 90 requests a minute

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
        data = json_body(body)
        if isinstance(data, dict) and "error" in data:
            raise VenueError(f"venue error: {data.get('error')}: {data.get('message', '')}")
        if not isinstance(data, list):
            raise ParseError("expected a JSON array")
        if data and data[0] == "error":
            raise VenueError(f"venue error: {data[1:]}")
        if data and not isinstance(data[0], list):  # one ticker: a flat row of numbers
            if market is None:
                raise ParseError("a single ticker needs its market")
            return [self._ticker(data, market, ts_recv)]
        out = []
        for row in data:
            if not isinstance(row, list) or not row or not isinstance(row[0], str):
                raise ParseError("expected ticker rows starting with their symbol")
            m = self.lookup(row[0])
            if m is None:
                continue
            out.append(self._ticker(row[1:], m, ts_recv))
        return out

    def _ticker(self, row: list[Any], m: Market, ts_recv: int) -> Ticker:
        if len(row) != TRADING_ROW:
            raise ParseError(f"expected a trading ticker of {TRADING_ROW} fields")
        last = num(row[6])
        return Ticker(
            "bitfinex",
            m.symbol,
            m.native,
            bid=num(row[0]),
            ask=num(row[2]),
            last=last,
            open=_minus(last, num(row[4])),
            high=num(row[8]),
            low=num(row[9]),
            volume=num(row[7]),
            ts_event=None,
            ts_recv=ts_recv,
        )

    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """conf/pub:list:pair:exchange: [["1INCH:USD","BTCEUR","BTCUSD","BTCUST",...]]
        (conf/pub:info:pair, [[["BTCUSD",[...]], ...]], is read as well)."""
        data = json_body(body)
        if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], list):
            raise ParseError("expected [[pair, ...]]")
        out = []
        for entry in data[0]:
            pid = entry[0] if isinstance(entry, list) else entry
            if not isinstance(pid, str):
                raise ParseError(f"unexpected pair entry: {entry!r}")
            if pid.startswith("TEST") or "F0" in pid:  # paper trading, derivatives
                continue
            if ":" in pid:
                base_id, quote_id = pid.split(":")
            else:
                base_id, quote_id = pid[:3], pid[3:]
            if not base_id or not quote_id or base_id in LEFT_OUT or quote_id in LEFT_OUT:
                continue
            symbol = unify(RENAMES.get(base_id, base_id), RENAMES.get(quote_id, quote_id))
            out.append(Market(symbol, "t" + pid, (pid,), base_id=base_id, quote_id=quote_id))
        return out


def _minus(a: float | None, b: float | None) -> float | None:
    """a - b rounded to the decimals the venue used, so 0.3 - 0.1 is 0.2."""
    if a is None or b is None:
        return None
    return round(a - b, max(_decimals(a), _decimals(b)))


def _decimals(x: float) -> int:
    exponent = Decimal(repr(x)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
