"""Exchange ids: the venues that trade today, the old ids that lead to them, the closed ones.

The 2019 list this project starts from names 124 ids: those that trade today under the
same id, those served by a successor (old ids, mapped with a warning) and the closed ones,
refused with what became of them ("closed 2026-09-23", "renamed to X"), never as "unknown".
``rows()`` is the table that ``aggregator exchanges`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ClosedExchange, UnknownExchange

# Venues that trade today (our ids).
VENUES: tuple[str, ...] = (
    "alp",
    "ascendex",
    "bequant",
    "bigone",
    "binance",
    "binanceus",
    "bit2c",
    "bitbank",
    "bitfinex",
    "bitflyer",
    "bithumb",
    "bitso",
    "bitstamp",
    "btcbox",
    "btcmarkets",
    "btcturk",
    "buda",
    "cex",
    "coinbase",
    "coinbaseexchange",
    "coincheck",
    "coinex",
    "coinmate",
    "coinone",
    "coinspot",
    "deribit",
    "digifinex",
    "foxbit",
    "gate",
    "gemini",
    "hitbtc",
    "htx",
    "independentreserve",
    "indodax",
    "kraken",
    "kucoin",
    "latoken",
    "lbank",
    "luno",
    "mercado",
    "okx",
    "okxus",
    "paymium",
    "poloniex",
    "upbit",
    "whitebit",
    "yobit",
    "zaif",
)

# Old ids of the 2019 list served today by another id.
ALIASES: dict[str, str] = {
    "okex": "okx",
    "okex3": "okx",
    "huobipro": "htx",
    "gateio": "gate",
    "coinbasepro": "coinbaseexchange",
    "bitfinex2": "bitfinex",
    "hitbtc2": "hitbtc",
    "bitstamp1": "bitstamp",
    "btcalpha": "alp",  # BTC-Alpha became ALP.com (API v3)
    "okcoinusd": "okxus",  # OKCoin USA moved to OKX US (2025)
    "bitmax": "ascendex",
}

# Ids of the 2019 list with no public API today, with what became of them where known.
CLOSED: dict[str, str] = dict.fromkeys(
    [
        "_1btcxe",
        "acx",
        "adara",
        "allcoin",
        "anxpro",
        "bcex",
        "bibox",
        "binanceje",
        "bitforex",
        "bitkk",
        "bitlish",
        "bittrex",
        "bitz",
        "bl3p",
        "bleutrade",
        "braziliex",
        "btcchina",
        "btctradeim",
        "btctradeua",
        "bytetrade",
        "chilebit",
        "cobinhood",
        "coinbaseprime",
        "coinegg",
        "coinexchange",
        "coinfalcon",
        "coinfloor",
        "coingi",
        "coinmarketcap",
        "cointiger",
        "coolcoin",
        "coss",
        "crex24",
        "dsx",
        "dx",
        "exx",
        "fcoin",
        "fcoinjp",
        "flowbtc",
        "ftx",
        "fybse",
        "huobiru",
        "ice3x",
        "idex",
        "itbit",
        "kkex",
        "kuna",
        "lakebtc",
        "liquid",
        "livecoin",
        "lykke",
        "mandala",
        "mixcoins",
        "negociecoins",
        "oceanex",
        "okcoincny",
        "rightbtc",
        "southxchange",
        "surbitcoin",
        "theocean",
        "therock",
        "tidebit",
        "tidex",
        "vaultoro",
        "vbtc",
        "virwox",
        "xbtce",
        "zb",
    ],
    "closed",
)
CLOSED.update(
    {
        # Closed in 2026 (the venues' notices, as of December 2026).
        "bitbay": "renamed to zonda, in liquidation (2026)",
        "bitmart": "trading ended 2026-08-26",
        "bitmex": "closed 2026-09-23",
        "exmo": "closing (2026)",
    }
)

# Today's ids that are not ids of the 2019 list (each is the successor of an old id).
NEW_SINCE_2019: frozenset[str] = frozenset(
    {"alp", "ascendex", "coinbaseexchange", "gate", "htx", "okx", "okxus"}
)
# 2019 ids that are also today's ids.
SAME_ID_2019: tuple[str, ...] = tuple(v for v in VENUES if v not in NEW_SINCE_2019)


@dataclass(frozen=True, slots=True)
class Resolved:
    venue: str  # today's id
    asked: str  # the id the user wrote
    warning: str | None  # set when an old id was mapped to its successor


def resolve(exchange_id: str) -> Resolved:
    """Map a configured exchange id to today's venue id, or raise with the reason."""
    eid = exchange_id.strip().lower()
    if eid in VENUES:
        return Resolved(eid, exchange_id, None)
    if eid in ALIASES:
        new = ALIASES[eid]
        return Resolved(new, exchange_id, f"exchange id {eid!r} is now {new!r}; using {new!r}")
    if eid in CLOSED:
        what = CLOSED[eid]
        if not what.startswith(("closed", "closing", "renamed")):
            what = f"closed ({what})"
        raise ClosedExchange(f"exchange {eid!r} is {what}: its venue has no public API today")
    raise UnknownExchange(f"unknown exchange {exchange_id!r}; see `aggregator exchanges`")


def all_2019_ids() -> list[str]:
    return sorted([*SAME_ID_2019, *ALIASES, *CLOSED])


Row = tuple[str, str, str]  # (id, status, detail)


def rows() -> list[Row]:
    """The table of ids: one row per 2019 id, and one per venue that an old id leads to
    under a new id. The status is "trading", "renamed" (an old id: its detail names the
    venue) or "closed" (its detail says what became of it); the row of a new id names the
    old ones, that of a trading 2019 id its own old ids, if any."""
    olds: dict[str, list[str]] = {}
    for old, new in sorted(ALIASES.items()):
        olds.setdefault(new, []).append(old)
    trading: list[Row] = []
    for v in sorted(VENUES):
        if v in NEW_SINCE_2019:
            trading.append((v, "trading", f"successor of {', '.join(olds.get(v, []))}"))
        else:
            also = olds.get(v)
            trading.append((v, "trading", f"also old id {', '.join(also)}" if also else ""))
    renamed = [(old, "renamed", f"now {new}") for old, new in sorted(ALIASES.items())]
    closed = [
        (eid, "closed", "no public API today" if what == "closed" else what)
        for eid, what in sorted(CLOSED.items())
    ]
    return trading + renamed + closed
