"""Every record's numbers settled: the check of records.Ticker.settle, one record or a
read's records at once (settle_batch: the merge with each market's last record, the dedupe
of unchanged polls, the sequence and the instance), compiled where the install built
aggregator/_settle.c, in Python otherwise (the same rules: the tests run both)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from .records import (
    _NO_DERIVATIVE,
    _NOTHING,
    BAD_VALUE,
    EMPTY,
    FLAGS,
    MARKET_FIELDS,
    PRICE_FIELDS,
    Derivative,
    Ticker,
)


def _compiled() -> Any:
    """The record check compiled (aggregator/_settle.c): settle and settle_batch, the same
    rules on the record's slots; None where the package was installed without it."""
    try:
        compiled = importlib.import_module("aggregator._settle")
    except ImportError:
        return None
    prices = tuple(name in PRICE_FIELDS for name in MARKET_FIELDS)
    compiled.setup(
        Ticker, MARKET_FIELDS, prices, EMPTY, _NOTHING, FLAGS, Derivative, _NO_DERIVATIVE
    )
    return compiled


def python_settle_batch(
    records: list[Ticker],
    last: dict[str, Ticker],
    merge: bool,
    dedupe: bool,
    seq: int,
    instance: str | None,
    batch: list[Ticker],
) -> tuple[int, int, int, str]:
    """A read's records made the venue's: each settled (merged with its market's last
    record in ``last``, by symbol, when ``merge``), then, unless ``dedupe`` finds its
    values equal to that last record's (a poll that saw no change), kept as its market's
    last, numbered
    from ``seq`` on, stamped with ``instance`` and appended to ``batch``. Returns the last
    number given, the records flagged, those flagged BAD_VALUE, and the last of those's
    native id."""
    flagged = bad = 0
    bad_native = ""
    for rec in records:
        native = rec.native
        prev = last.get(rec.symbol)
        wrong = settle(rec, prev if merge else None)
        if dedupe and prev is not None and rec.same_market_values(prev):
            continue
        if wrong:
            flagged += 1
            if wrong & BAD_VALUE:
                bad += 1
                bad_native = native
        last[rec.symbol] = rec
        seq += 1
        rec.seq = seq
        if instance is not None:
            rec.instance = instance
        batch.append(rec)
    return seq, flagged, bad, bad_native


_built = _compiled()
# settle(record, prev) -> mask: every record's check (Ticker.settle's rules); settle_batch:
# a read's records settled, numbered and batched (python_settle_batch). Compiled where built.
settle: Any = _built.settle if _built is not None else Ticker.settle
settle_batch: Any = _built.settle_batch if _built is not None else python_settle_batch


def python_remember(by: dict[Any, Any], records: Sequence[Any]) -> None:
    """by[key[:2]][key[2]] = record for each record's key (type, exchange, id): the hub's
    latest values of a batch (hub.Latest's dicts)."""
    for record in records:
        kind, exchange, id_ = record.key()
        inner = by.get((kind, exchange))
        if inner is None:
            inner = by[kind, exchange] = {}
        inner[id_] = record


# the same, compiled where built (a ticker's key made from its slots)
remember: Any = _built.remember if _built is not None else python_remember
