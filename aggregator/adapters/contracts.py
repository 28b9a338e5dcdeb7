"""Contract counts as base-currency units, for the derivatives codecs.

Most venues count a derivative's sizes and open interest in contracts; records carry them
in the base currency. A linear contract is worth ``contract_size`` of the base currency; an
inverse one ``contract_size`` of the quote currency, so its base units depend on the price.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..symbols import NO_RENAMES, Market, derivative_symbol


def linear_perp(
    base: str,
    quote: str,
    native: str,
    *,
    renames: Mapping[str, str] = NO_RENAMES,
    ids: tuple[str, ...] = (),
    contract_size: float = 1.0,
) -> Market:
    """The linear perpetual ``native`` of the venue's currencies ``base`` and ``quote``,
    settled in the quote currency, a contract worth ``contract_size`` of the base one."""
    return Market(
        derivative_symbol(base, quote, quote, renames=renames),
        native,
        ids,
        base_id=base,
        quote_id=quote,
        kind="perp",
        contract_size=contract_size,
    )


def in_base(contracts: float | None, m: Market, price: float | None = None) -> float | None:
    """``contracts`` of market ``m`` in base units; ``price`` (quote per base) is needed for
    an inverse market, and without a usable one the size is unknown (None).

    None, EMPTY and BAD come back as they are, for ``Ticker.settle`` to judge. Rounded to 12
    decimals, so that 3 contracts of 0.0001 read 0.0003 and not 0.00030000000000000003.
    """
    if contracts is None or contracts != contracts:
        return contracts
    if not m.inverse:
        return round(contracts * m.contract_size, 12)
    if price is None or not price > 0.0:
        return None
    return round(contracts * m.contract_size / price, 12)


def in_quote(contracts: float | None, m: Market) -> float | None:
    """``contracts`` of an inverse market in the quote currency (what each is worth)."""
    if contracts is None or contracts != contracts:
        return contracts
    return round(contracts * m.contract_size, 12)
