"""Bitfinex perpetual contracts (``tBTCF0:USTF0``), API v2: the ticker channel and the
derivatives ``status`` channel over WebSocket, the tickers and derivatives status over REST.

The protocol is the spot one's (``bitfinex``: channel ids from "subscribed" events,
heartbeats, info codes). Each market takes two channels: ``ticker`` (the spot row: best
bid and ask, last, daily change, 24 h volume, high, low; its sizes are the sums of the 25
best levels, so they are not mapped) and ``status`` with key ``deriv:tBTCF0:USTF0``:
[MTS, _, DERIV_PRICE, SPOT_PRICE, _, INSURANCE_FUND, _, NEXT_FUNDING_MTS, ACCRUED, STEP, _,
CURRENT_FUNDING, _, _, MARK_PRICE, _, _, OPEN_INTEREST, ...], about once a second. The
record's index is SPOT_PRICE, its funding rate CURRENT_FUNDING (for the 8 h period that
ends at NEXT_FUNDING_MTS); open interest is counted in base units (a contract is one).

Markets: conf/pub:list:pair:futures ("BTCF0:USTF0"; "TEST..." paper pairs skipped); the
F0 suffix marks the perpetual, USTF0 is settled in USDT (UST), EUTF0 in EURt.
REST: GET /v2/tickers?symbols=... and /v2/status/deriv?keys=... (its rows lead with the key).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
import orjson

from ..errors import ParseError
from ..records import Derivative, Ticker, minus, ms_to_ns
from ..symbols import Market, derivative_symbol
from ..timestamps import MILLIS
from .base import RestRequest, json_body
from .bitfinex import FRAME, HEARTBEAT, ROW, TRADING_ROW, Bitfinex, Row, rest_rows
from .routes import Call, Route, TimeAt
from .schema import Num, Schema, Time

STATUS_ROW = 18  # up to OPEN_INTEREST


class Status(msgspec.Struct, array_like=True):
    """A derivatives status row (after its key, on REST); later fields are left out."""

    mts: Time
    x1: Any  # a placeholder
    deriv_price: Num
    spot_price: Num
    x4: Any  # a placeholder
    insurance_fund: Num
    x6: Any  # a placeholder
    next_funding_mts: Time
    next_funding_accrued: Num
    next_funding_step: Num
    x10: Any  # a placeholder
    current_funding: Num
    x12: Any  # a placeholder
    x13: Any  # a placeholder
    mark_price: Num
    x15: Any  # a placeholder
    x16: Any  # a placeholder
    open_interest: Num


STATUS = Schema(Status)


class BitfinexDeriv(Bitfinex):
    MARKETS_URL: ClassVar[str] = "https://api-pub.bitfinex.com/v2/conf/pub:list:pair:futures"
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 12  # two of the 25 public channels each
    MERGE: ClassVar[bool] = True
    REST_RATE: ClassVar[float] = 1.0  # 90 requests a minute per endpoint
    # parse_ws's ticker rows (shorter than a status row) and status rows, read in C
    ROUTES: ClassVar[tuple[Route, ...]] = (
        HEARTBEAT,  # spot's: [CHAN_ID, "hb"], two channels a market
        Route(
            when={"1.17": None}, market="0", lookup="_channels", market_int=True,
            record=Derivative, market_fields={"kind": "kind"},
            fields={"bid": "1.0", "ask": "1.2", "last": "1.6",
                    "open": Call(minus, "1.6", "1.4"), "high": "1.8", "low": "1.9",
                    "volume": "1.7"},
        ),
        Route(
            when={}, market="0", lookup="_status", market_int=True,
            record=Derivative, market_fields={"kind": "kind"},
            fields={"ts_event": TimeAt("1.0", MILLIS), "mark": "1.14", "index": "1.3",
                    "funding_rate": "1.11", "funding_ts": TimeAt("1.7", MILLIS),
                    "open_interest": "1.17"},
        ),
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._status: dict[int, Market] = {}  # status channel id -> market

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        tickers = super().subscribe(markets)
        self._pending = 2 * len(markets)
        return tickers + [
            orjson.dumps(
                {"event": "subscribe", "channel": "status", "key": f"deriv:{m.native}"}
            ).decode()
            for m in markets
        ]

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Ticker: {"event":"subscribed","channel":"ticker","chanId":105,
        "symbol":"tBTCF0:USTF0"} then [105,[78544,7.22403957,78564,11.4544057,1354,
        0.01753818,78557,182.3244794,78740,76418,null]] (recorded, ccxt's test data).
        Status (documented): {"event":"subscribed","channel":"status","chanId":7,
        "key":"deriv:tBTCF0:USTF0"} then [7,[1596124822000,null,0.896,0.771,null,
        1.0e-4,null,1596153600000,-3.1e-8,0,null,6.2e-8,null,null,0.897,null,null,
        1000.5,null,null,null,0.001,0.01]].
        """
        first = raw[:1]
        if first == b"[" or first == "[":
            doc = None
            chan: Any
            row: Any
            try:
                frame = FRAME(raw)
                chan, row = frame.chan, frame.row
            except msgspec.ValidationError:  # a row with a bad value, or a status row
                doc = json_body(raw)
                chan, row = (doc[0], doc[1]) if isinstance(doc, list) and len(doc) > 1 else (0, 0)
            except msgspec.DecodeError:
                chan = row = None  # not JSON: the spot parser says so
            if isinstance(chan, int) and not isinstance(row, str):  # not a heartbeat
                if (m := self._status.get(chan)) is not None:
                    status = (doc if doc is not None else json_body(raw))[1]
                    return [self._derivs(self._status_of(status), m, ts_recv)]
                if (m := self._channels.get(chan)) is not None:
                    if not isinstance(row, Row):
                        if not isinstance(row, list) or len(row) < TRADING_ROW:
                            raise ParseError(f"expected a ticker row of {TRADING_ROW} fields")
                        row = ROW.convert(row[:TRADING_ROW])
                    return [self._ticker_of(row, m, ts_recv)]
        return super().parse_ws(raw, ts_recv)  # events, heartbeats, unknown channels

    @staticmethod
    def _status_of(row: Any) -> Status:
        if not isinstance(row, list) or len(row) < STATUS_ROW:
            raise ParseError(f"expected a status row of {STATUS_ROW} fields or more")
        return STATUS.convert(row[:STATUS_ROW])

    def _event(self, msg: dict[str, Any]) -> list[Ticker]:
        event, chan = msg.get("event"), msg.get("chanId")
        if event == "subscribed" and msg.get("channel") == "status" and isinstance(chan, int):
            self._pending -= 1
            key = str(msg.get("key", ""))
            market = self.lookup(key.removeprefix("deriv:"))
            if market is not None:
                self._status[chan] = market
            else:
                self._others.add(chan)
            return []
        if event == "unsubscribed" and isinstance(chan, int):
            self._status.pop(chan, None)
        return super()._event(msg)

    def _ticker_of(self, row: Row, m: Market, ts_recv: int) -> Ticker:
        return Derivative(
            self.venue, m.symbol, m.native, row.bid, None, row.ask, None,
            row.last, minus(row.last, row.daily_change), row.high, row.low, row.volume, None,
            None, ts_recv, kind=m.kind,
        )  # fmt: skip

    def _derivs(self, s: Status, m: Market, ts_recv: int) -> Ticker:
        return Derivative(
            self.venue, m.symbol, m.native, ts_event=ms_to_ns(s.mts), ts_recv=ts_recv,
            kind=m.kind, mark=s.mark_price, index=s.spot_price,
            funding_rate=s.current_funding, funding_ts=ms_to_ns(s.next_funding_mts),
            open_interest=s.open_interest,
        )  # fmt: skip

    # --- REST --------------------------------------------------------------------------
    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        ids = quote(",".join(m.native for m in markets), safe=",:")
        return [
            RestRequest(f"{base_url}/v2/tickers?symbols={ids}"),
            RestRequest(f"{base_url}/v2/status/deriv?keys={ids}"),
        ]

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        """/v2/tickers: [["tBTCF0:USTF0",78544,7.2,78564,11.4,1354,0.0175,78557,182.3,
        78740,76418]]; /v2/status/deriv: [["tBTCF0:USTF0",1596124822000,null,0.896,0.771,
        null,1.0e-4,null,1596153600000,-3.1e-8,0,null,6.2e-8,null,null,0.897,null,null,
        1000.5,null,null,null,0.001,0.01]] (documented). Errors: ["error",10020,"..."]."""
        data = rest_rows(body)
        out: list[Ticker] = []
        for m, row in self.rows_followed(data):
            if len(row) > TRADING_ROW + 1:
                out.append(self._derivs(self._status_of(row[1:]), m, ts_recv))
            elif len(row) == TRADING_ROW + 1:
                out.append(self._ticker_of(ROW.convert(row[1:]), m, ts_recv))
            else:
                raise ParseError(f"expected a ticker of {TRADING_ROW} fields")
        return out

    @staticmethod
    def market_rows(body: bytes) -> list[Any]:
        """conf/pub:list:pair:futures: [["BTCF0:USTF0","ETHF0:USTF0","BTCF0:EUTF0",
        "TESTBTCF0:TESTUSDTF0",...]]."""
        return Bitfinex.market_rows(body)

    @classmethod
    def market_of(cls, entry: Any) -> Market | None:
        if not isinstance(entry, str) or ":" not in entry:
            raise ParseError(f"unexpected pair entry: {entry!r}")
        if entry.startswith("TEST"):
            return None
        base_id, quote_id = entry.split(":")
        if not base_id.endswith("F0") or not quote_id.endswith("F0"):
            return None  # not a perpetual
        base, settle = base_id[:-2], quote_id[:-2]
        return Market(
            derivative_symbol(base, settle, settle, renames=cls.RENAMES),
            "t" + entry,
            (entry,),
            base_id=base_id,
            quote_id=quote_id,
            kind="perp",
        )
