"""Venue times to the record's time: integer nanoseconds since the epoch, or None.

Venues count time in seconds, milliseconds, microseconds or nanoseconds, and send it as
an integer, a float or a decimal string. Every codec converts through this module:

- ``to_ns(value, unit)`` when the venue documents its unit (``SECONDS``, ``MILLIS``,
  ``MICROS``, ``NANOS``); ``seconds_to_ns``, ``ms_to_ns`` and ``us_to_ns`` are its
  shorthands for the common units.
- ``epoch_to_ns(value)`` where a venue mixes units in one field: the unit is inferred
  from the magnitude. A value below 1e11 is seconds, below 1e14 milliseconds, below 1e17
  microseconds, else nanoseconds. Each threshold is 1973-03-03T09:46:40Z in the smaller
  unit and the year 5138 in the larger one, so any time from 1973-03-03 to the record's
  limit (2262) is read in its own unit, whatever that unit is.
- ``iso_to_ns(text)`` for RFC 3339 UTC times.

The record carries times from 1970 up to the largest signed 64-bit count of ns (2262):
anything else (negative, past 2262, not a number, NaN, a boolean) is None, never a guess.
A decimal string keeps all its digits down to the nanosecond ("1710328241.123" seconds
is exactly ...241123000000 ns), and so does a float (read as its shortest decimal form).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

NS_MAX = 2**63 - 1

# Units, as nanoseconds per unit.
SECONDS = 1_000_000_000
MILLIS = 1_000_000
MICROS = 1_000
NANOS = 1
_FRACTION_DIGITS = {SECONDS: 9, MILLIS: 6, MICROS: 3, NANOS: 0}

_MS_MAX = NS_MAX // MILLIS  # the largest time in ms that fits the record
_DIGITS_MAX = 30  # digits of a whole number read directly (more: out of range anyway)


def valid_ns(ns: int) -> int | None:
    """A time in integer ns as the record carries it, or None if out of range."""
    return ns if 0 <= ns <= NS_MAX else None


def to_ns(value: Any, unit: int) -> int | None:
    """A time counted in ``unit`` (ns per unit: SECONDS, MILLIS, MICROS, NANOS) since the
    epoch, given as an int, a float or a decimal string, to integer ns; None if it is not
    a number or falls outside the record's range."""
    kind = type(value)
    if kind is int:  # not bool: type() is exact
        return valid_ns(value * unit)
    if kind is str:
        if value.isdecimal() and len(value) <= _DIGITS_MAX:  # the common case: whole
            return valid_ns(int(value) * unit)
        return _decimal_to_ns(value, unit)
    if kind is float:
        return _float_to_ns(value, unit)
    return None


def _float_to_ns(value: float, unit: int) -> int | None:
    """A float as the decimal text it was parsed from (its shortest repr), so that a JSON
    1786614360.92294 is ...360922940000 ns, not the binary value's ...360922939968."""
    if not 0 <= value <= NS_MAX / unit:  # also refuses NaN
        return None
    text = repr(value + 0.0)  # -0.0 as "0.0": "-0.0" would come back here for ever
    if "e" in text:  # tiny or huge: no decimal digits worth keeping
        whole = int(value)
        return valid_ns(whole * unit + round((value - whole) * unit))
    return _decimal_to_ns(text, unit)


def ms_to_ns(value: Any) -> int | None:
    """Milliseconds since the epoch to ns (the commonest unit: whole numbers inlined)."""
    if value is None:
        return None
    kind = type(value)
    if kind is int:
        return value * MILLIS if 0 <= value <= _MS_MAX else None
    if kind is str:
        if not (value.isdecimal() and len(value) <= _DIGITS_MAX):
            return _decimal_to_ns(value, MILLIS)
        value = int(value)
        return value * MILLIS if value <= _MS_MAX else None
    return to_ns(value, MILLIS)


def seconds_to_ns(value: Any) -> int | None:
    """Seconds since the epoch to ns."""
    return to_ns(value, SECONDS)


def us_to_ns(value: Any) -> int | None:
    """Microseconds since the epoch to ns."""
    return to_ns(value, MICROS)


def epoch_to_ns(value: Any) -> int | None:
    """A time since the epoch in an unknown unit (s, ms, µs or ns), inferred from its
    magnitude (see the module's docstring for the thresholds), to ns."""
    kind = type(value)
    if kind is str:
        if value.isdecimal() and len(value) <= _DIGITS_MAX:
            value, kind = int(value), int
        else:
            try:
                magnitude = float(value)
            except ValueError:
                return None
            return to_ns(value, _unit_of(magnitude)) if magnitude >= 0 else None
    if kind is int:
        return valid_ns(value * _unit_of(value)) if value >= 0 else None
    if kind is float:
        return to_ns(value, _unit_of(value)) if value >= 0 else None  # NaN fails the test
    return None


def _unit_of(magnitude: float) -> int:
    """The unit a time of this magnitude is written in (epoch_to_ns)."""
    if magnitude >= 1e14:
        return NANOS if magnitude >= 1e17 else MICROS
    return MILLIS if magnitude >= 1e11 else SECONDS


def _decimal_to_ns(text: str, unit: int) -> int | None:
    """A decimal string ("1710328241", "1710328241.123") to ns with every digit kept;
    other numeric forms ("1.7e9") through float."""
    whole, _, frac = text.strip().partition(".")
    if (
        whole.isascii()
        and whole.isdigit()
        and len(whole) <= 20
        and (not frac or (frac.isascii() and frac.isdigit()))
    ):
        digits = _FRACTION_DIGITS[unit]
        ns = int(whole) * unit
        if frac and digits:
            ns += int(frac[:digits].ljust(digits, "0"))
        return valid_ns(ns)
    try:
        f = float(text)
    except ValueError:
        return None
    return _float_to_ns(f, unit) if math.isfinite(f) else None


_EPOCH_CACHE: dict[str, int] = {}
_FRACTION_SCALE = [10 ** (9 - n) for n in range(10)]  # ns per unit of an n-digit fraction


def iso_to_ns(value: Any) -> int | None:
    """An RFC 3339 UTC time ("2026-08-12T19:29:00.921195Z", up to ns digits) to ns.

    The whole-second part is cached, so a stream of times within the same second
    costs one dict lookup and an int parse of the fraction.
    """
    if type(value) is not str or len(value) < 19:
        return None
    head = value[:19]
    secs = _EPOCH_CACHE.get(head)
    if secs is not None and value[-1] == "Z" and value[19] == ".":  # nearly every time
        digits = value[20:-1]
        if 0 < len(digits) <= 9 and digits.isdigit() and digits.isascii():
            ns = secs * SECONDS + int(digits) * _FRACTION_SCALE[len(digits)]
            return ns if 0 <= ns <= NS_MAX else None
    if secs is None:
        try:
            dt = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            try:
                dt = datetime.fromisoformat(head).replace(tzinfo=UTC)
            except ValueError:
                return None
        secs = int(dt.timestamp())
        if len(_EPOCH_CACHE) > 4096:
            _EPOCH_CACHE.clear()
        _EPOCH_CACHE[head] = secs
    rest = value[19:]
    frac_ns = 0
    if rest.startswith("."):
        digits = rest[1:].rstrip("Z").split("+")[0]
        if digits.endswith("+00:00"):
            digits = digits[:-6]
        if digits:
            if not (digits.isascii() and digits.isdigit()):
                return None
            frac_ns = int(digits[:9].ljust(9, "0"))
    elif rest not in ("", "Z", "+00:00"):
        return None
    return valid_ns(secs * SECONDS + frac_ns)
