"""Exchange ids: the venues that trade today, the old ids that lead to them, the closed ones.

The 2019 list this project starts from names 124 ids: 38 trade today under the same id,
8 through a successor (46 ids, 42 venues), 78 are closed. A closed id is refused with
"closed" (or "renamed to X"), never "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ClosedExchange, UnknownExchange

# Venues that trade today (our ids).
VENUES: tuple[str, ...] = (
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
    "paymium",
    "poloniex",
    "upbit",
    "whitebit",
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
        "bitmart",
        "bitmex",
        "bittrex",
        "bitz",
        "bl3p",
        "bleutrade",
        "braziliex",
        "btcalpha",
        "btcchina",
        "btctradeim",
        "btctradeua",
        "buda",
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
        "exmo",
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
        "yobit",
        "zb",
    ],
    "closed",
)
CLOSED.update(
    {
        "bitbay": "renamed to zonda, no adapter",
        "okcoinusd": "renamed to okcoin, no adapter",
    }
)

# 2019 ids that are also today's ids.
SAME_ID_2019: tuple[str, ...] = tuple(
    v for v in VENUES if v not in {"ascendex", "coinbaseexchange", "gate", "htx", "okx"}
)


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
        raise ClosedExchange(f"exchange {eid!r} is {what}: its venue has no public API today")
    raise UnknownExchange(f"unknown exchange {exchange_id!r}; see `aggregator exchanges`")


def all_2019_ids() -> list[str]:
    return sorted([*SAME_ID_2019, *ALIASES, *CLOSED])
