"""Subscribe filters: what a subscriber asks for, checked so that it can match something.

One check for every way of asking: the socket protocol's subscribe message, ``aggregator
tail -e/-s/-t`` and ``aggregator subscribe --nats -e/-s/-t``. A filter that can never match
is an error naming the value, never a silent wait: an unknown exchange id, a closed one, a
symbol that is not ``BASE/QUOTE``, an unknown type. What can be mapped is mapped with a
notice, as the config maps it: an old exchange id to today's venue, a currency alias
(``XBT/USD`` is ``BTC/USD``). A venue that trades but does not run in this daemon is a
notice too: its records never come on this connection.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import venues
from .errors import AggregatorError, ClosedExchange, UnknownExchange
from .records import KINDS
from .symbols import is_unified, unify

if TYPE_CHECKING:
    from .records import Record

TYPES = ("ticker", "status", "bbo")
KEYS = ("exchanges", "symbols", "types", "kinds")
# Sources of records that are not venues: the file sink reports its own trouble; the
# consolidated view's bbo records are its own.
OWN_SOURCES = frozenset({"files", "consolidated"})


class FilterError(AggregatorError, ValueError):
    """A filter that can never match; the message names the option and the value."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Filter:
    """What a subscriber wants; None means any. Status records (no symbol) pass symbols."""

    exchanges: frozenset[str] | None = None
    symbols: frozenset[str] | None = None
    types: frozenset[str] | None = None
    kinds: frozenset[str] | None = None  # a record without a kind (bbo) counts as spot

    def match(self, r: Record) -> bool:
        return (
            (self.exchanges is None or r.exchange in self.exchanges)
            and (self.symbols is None or r.symbol is None or r.symbol in self.symbols)
            and (self.types is None or r.type in self.types)
            and (self.kinds is None or getattr(r, "kind", "spot") in self.kinds)
        )


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a subscriber should know about its filter; it still applies."""

    event: str  # "old_id", "alias" or "not_running"
    value: str  # the value asked for
    message: str

    def as_json(self) -> dict[str, str]:
        return {"event": self.event, "value": self.value, "message": self.message}


@dataclass(frozen=True, slots=True)
class Checked:
    """A filter as it will be applied: today's ids and unified symbols, and the notices."""

    exchanges: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    notices: tuple[Notice, ...] = ()
    kinds: tuple[str, ...] = ()

    def lists(self) -> dict[str, list[str]]:
        out = {
            "exchanges": list(self.exchanges),
            "symbols": list(self.symbols),
            "types": list(self.types),
        }
        if self.kinds:  # (an answer without kinds is as it was before kinds)
            out["kinds"] = list(self.kinds)
        return out

    def filter(self) -> Filter | None:
        """The matcher; None when nothing is filtered (the cheapest for the sink)."""
        f = Filter(*(frozenset(getattr(self, k)) or None for k in KEYS))
        return None if f == Filter() else f


def _shown(value: str) -> str:
    """A value as an error quotes it, cut to a readable length (it comes from outside)."""
    text = repr(value)
    return text if len(text) <= 42 else text[:34] + "...(cut)"


def exchange(value: str, running: Collection[str] | None = None) -> tuple[str, list[Notice]]:
    """Today's id of an exchange filter value, with a notice when it was mapped or does not
    run here (``running``: the venues this daemon runs; None: not known); FilterError (its
    message without the option's name) when no record can ever carry it."""
    if value.strip().lower() in OWN_SOURCES:
        return value.strip().lower(), []
    try:
        resolved = venues.resolve(value)
    except ClosedExchange as e:  # worded as the config words it: what became of it
        raise FilterError(str(e)) from None
    except UnknownExchange:
        raise FilterError(f"unknown exchange {_shown(value)}; see `aggregator exchanges`") from None
    venue, notices = resolved.venue, []
    if resolved.warning:
        notices.append(Notice("old_id", value, resolved.warning))
    if running is not None and venue not in running:
        notices.append(
            Notice(
                "not_running",
                venue,
                f"exchange {venue!r} does not run in this daemon (not configured, disabled, or on "
                "another shard): no record will come for it",
            )
        )
    return venue, notices


def symbol(value: str) -> tuple[str, list[Notice]]:
    """The unified form of a symbol filter value (currency aliases applied, with a notice);
    FilterError when it is not ``BASE/QUOTE``."""
    if not is_unified(value):
        hint = value.strip().upper()
        if is_unified(hint):
            raise FilterError(f"{_shown(value)} is not a unified symbol; did you mean {hint!r}?")
        raise FilterError(f"{_shown(value)} is not a unified symbol like 'BTC/USDT' (BASE/QUOTE)")
    unified = unify(*value.split("/"))
    if unified != value:
        return unified, [
            Notice("alias", value, f"symbol {value!r} is {unified!r}; using {unified!r}")
        ]
    return value, []


def check(
    exchanges: Iterable[str] = (),
    symbols: Iterable[str] = (),
    types: Iterable[str] = (),
    kinds: Iterable[str] = (),
    *,
    running: Collection[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> Checked:
    """Check a filter; FilterError naming the first value that can never match, prefixed
    with its option's name (``names`` maps "exchanges", "symbols", "types" to how the
    caller calls them: "-e/--exchange", say)."""
    label = {k: k for k in KEYS} | dict(names or {})
    notices: list[Notice] = []
    out: dict[str, list[str]] = {k: [] for k in KEYS}
    pairs = (("exchanges", exchanges), ("symbols", symbols), ("types", types), ("kinds", kinds))
    for key, items in pairs:
        for item in items:
            try:
                if key == "exchanges":
                    value, found = exchange(item, running)
                elif key == "symbols":
                    value, found = symbol(item)
                elif key == "kinds":
                    if item not in KINDS:
                        raise FilterError(
                            f"unknown kind {_shown(item)}; expected one of {', '.join(KINDS)}"
                        )
                    value, found = item, []
                elif item in TYPES:
                    value, found = item, []
                else:
                    raise FilterError(
                        f"unknown type {_shown(item)}; expected 'ticker', 'status' or 'bbo'"
                    )
            except FilterError as e:
                raise FilterError(f"{label[key]}: {e}") from None
            if value not in out[key]:
                out[key].append(value)
            notices += (n for n in found if n not in notices)
    return Checked(
        tuple(out["exchanges"]),
        tuple(out["symbols"]),
        tuple(out["types"]),
        tuple(notices),
        tuple(out["kinds"]),
    )
