"""A venue's numbers as the records take them: what a codec makes of the values it reads.

``num`` is the one reading of a venue's number (a finite float, None when not sent, else BAD);
``level`` and ``best_level`` read order book levels; ``minus`` and ``times`` make the values a
venue implies rather than sends. EMPTY and BAD are the two NaNs a codec may hand to a record's
settle step (records.Ticker.settle), told apart by identity.
"""

from __future__ import annotations

import math
from typing import Any

# For codecs of merged channels: "the venue says this value is gone" (an empty book side),
# as opposed to None, "this update does not carry the value". The settle step makes it None.
EMPTY = math.nan
# num()'s answer for a value the venue sent but not as a finite number ("abc", "NaN", true,
# an object, 1e400): a NaN told apart from EMPTY by identity. The settle step makes it None,
# flags the record and never carries the previous value over it. (Any other NaN, made by
# arithmetic on a bad value, is bad too.)
BAD = float("nan")


def num(value: Any) -> float | None:
    """A venue's number (string, int or float) as a finite float; None if not sent; else BAD.

    None and "" are "not sent" (None: a merged channel keeps the previous value). Anything
    else that is not a finite number ("abc", "NaN", infinities, 1e400, true, an object or a
    list) is BAD: the record gets null there and the flag, never 0 or a made-up number.
    """
    if value is None or value == "":
        return None
    if value is True or value is False:  # float(True) is 1.0
        return BAD
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return BAD
    return f if f - f == 0.0 else BAD


def level(price: Any, size: Any) -> tuple[float, float]:
    """An order book level's price (a finite number > 0) and size (finite, >= 0).

    ValueError otherwise: a book cannot place a level it cannot read, so a book codec reads
    all the levels of a frame before it changes its book, and on this error drops the book
    and renews the session (the book is out of step) rather than publish from it.
    """
    p, s = num(price), num(size)
    if p is None or s is None or not p > 0.0 or not s >= 0.0:
        raise ValueError(f"a level that is not a price and a size: {price!r}, {size!r}")
    return p, s


def best_level(levels: Any, highest: bool) -> tuple[float | None, float | None]:
    """The best (price, size) of a book side sent whole as [[price, size], ...] levels.

    (None, None) when the frame has no such side (None: a merge keeps the previous one);
    (EMPTY, EMPTY) when it has no level; (BAD, BAD) when a level's price cannot be read
    (a level without a price is skipped, but not all of them), since the best is unknown.
    """
    if levels is None:
        return None, None
    if not levels:
        return EMPTY, EMPTY
    if len(levels) == 1:  # a top-of-book channel's one level, its numbers declared floats
        top = levels[0]
        price = top[0]
        if type(price) is float and price - price == 0.0:
            amount = top[1]
            declared = type(amount) is float and amount - amount == 0.0
            return price, amount if declared else num(amount)
    best: float | None = None
    size: Any = None
    for lv in levels:
        price = num(lv[0])
        if price is None:
            continue
        if price != price:
            return BAD, BAD
        if best is None or (price > best if highest else price < best):
            best, size = price, lv[1]
    if best is None:
        return BAD, BAD
    return best, num(size)


def minus(a: float | None, b: float | None) -> float | None:
    """a - b rounded to the decimals the venue used: 63297.8 - 0.7 is 63297.1, not ...0006.

    For values a venue implies rather than sends, such as the open from last and change.
    BAD if either is BAD (or the difference is not finite): implied from a bad value.
    """
    if a is None or b is None:
        return None
    d = a - b
    return round(d, max(_decimals(a), _decimals(b))) if math.isfinite(d) else BAD


def times(a: float | None, b: float | None) -> float | None:
    """a * b: a quote volume from a VWAP and a base volume, say. None if either is None;
    BAD if either is BAD or the product is not finite (overflow)."""
    if a is None or b is None:
        return None
    p = a * b
    return p if math.isfinite(p) else BAD


def _decimals(x: float) -> int:
    """The decimals of x's shortest form (cached: a market's prices repeat)."""
    n = _DECIMALS.get(x)
    if n is None:
        if len(_DECIMALS) >= 8192:
            _DECIMALS.clear()
        n = _DECIMALS[x] = _count_decimals(x)
    return n


_DECIMALS: dict[float, int] = {}


def _count_decimals(x: float) -> int:
    text = repr(x)
    if "e" in text:
        mantissa, exp = text.split("e")
        frac = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return max(0, frac - int(exp))
    return len(text) - text.index(".") - 1 if "." in text else 0
