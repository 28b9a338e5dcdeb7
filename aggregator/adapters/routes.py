"""A codec's hot messages declared as routes, read in C (``aggregator/_frames.c``).

Nearly every frame a streaming venue sends is one of a few messages: a book ticker, a 24 h
ticker. A codec declares each as a ``Route``: the conditions that pick it (a string at a path,
or a path absent), where its records are (the frame, or the elements of arrays in it), where
the market's id is, and where each field of the record is. The compiled reader then takes
such a frame's bytes to its records in one call, without the Python objects of a decoded
message, and a frame that makes none (a heartbeat, declared ``Quiet``) is taken with no
Python call either; every other frame (acks, errors, a value of an unexpected type, a
field missing, a sequence gap) goes to the codec's ``parse_ws`` as before, which says what
is wrong with it. A route reads exactly what ``parse_ws`` would make of the frames it
takes: tests/test_frames.py holds every route to that, on recorded frames and mutated ones.

Paths are dotted: ``"arg.instId"``, ``"bids.[only].0"`` (``[only]``: an array of exactly one
element, its element; a number: an array's element at that index). In ``items``, ``[]``
after a step means each element of the array there: ``"events[].tickers[]"``; ``{}`` each
value of the object there, whose key may be the market id (``market=KEY``). A field's
path is read from the item; ``"$."`` before it reads from the frame's root.

A field is one of:

- a path: a number (JSON's, or a string in JSON's number grammar); null is None, or the
  Python path's with ``"!"`` before the path (a book level's price); a path the frame lacks
  is the Python path's, or None with ``"?"`` after it;
- a tuple of paths: the first not null;
- ``TimeAt(path, unit)``: a whole number or digit string of ``unit`` ns (``EPOCH``: the unit
  by its size), or an RFC 3339 text (``ISO``);
- ``Call(function, field, ...)``: the function of the fields' values (``MARKET``: the market;
  ``Text(path)``: a string as sent);
- ``MarketAttr(name)``: the market's attribute.

Fields not declared are the record's defaults; ``exchange``, ``symbol``, ``native`` and
``ts_recv`` are the reader's.

Without the compiled module (no C compiler at install) every frame takes ``parse_ws``.
"""

from __future__ import annotations

import functools
import importlib
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from ..records import Ticker
from ..values import minus, times
from .base import gunzip
from .contracts import in_base

if TYPE_CHECKING:
    from .base import Codec
    from .emitter import Connection, Emitter


def _compiled() -> Any:
    """aggregator._frames, or None where the package was built without it (no C compiler):
    the codecs' Python paths only."""
    try:
        return importlib.import_module("aggregator._frames")
    except ImportError:
        return None


_frames = _compiled()

COMPILED = _frames is not None

ISO = 0  # TimeAt's unit for an RFC 3339 text
EPOCH = -1  # TimeAt's unit inferred from the time's size, as timestamps.epoch_to_ns does
ONLY = -2  # the step "[only]"

# slot kinds, as _frames.c reads them
_CONST, _MARKET, _TS_RECV, _NUM, _TIME, _ISO, _CALL, _SELF = range(8)
_MINUS, _TIMES, _TEXT, _IN_BASE = range(8, 12)
_ELEMENT, _MEMBER = 1, 2  # items: each element of an array, each value of an object
KEY = "{key}"  # a market id that is the item's key in the object it is a value of


@dataclass(frozen=True, slots=True)
class TimeAt:
    """A time field: the first of ``paths`` not null, in ``unit`` ns (timestamps' units)
    or ``ISO``; a path given as ``(path, unit)`` has its own unit. A time of 0 is left to
    the Python path (a codec's ``or`` takes the next)."""

    paths: str | tuple[str | tuple[str, int], ...]
    unit: int


@dataclass(frozen=True, slots=True)
class MarketAttr:
    """The market's attribute of that name (a derivative's kind, its expiry)."""

    name: str


MARKET = MarketAttr("")  # Call's argument: the market itself


@dataclass(frozen=True, slots=True)
class Text:
    """Call's argument: the string at ``path`` as sent (a time a codec converts itself)."""

    path: str


@dataclass(frozen=True, slots=True)
class Call:
    """``function(*values)``: a value the venue implies (an open from a change), or one the
    market's table converts (contracts to base units). Each argument is a field spec."""

    function: Callable[..., Any]
    args: tuple[Any, ...]

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "args", args)


Spec = str | tuple[str, ...] | TimeAt | Call | MarketAttr | Text


@dataclass(frozen=True, slots=True)
class Route:
    """One message of a venue, as the compiled reader takes it (see the module's doc).

    - ``when``: path -> the string there (``"abc*"``: a string that starts with "abc"), or
      None for a path that must be absent (paths from the root).
    - ``items``: where the records are (``""``: the frame).
    - ``market``: the path of the venue's id of the market (item-relative, or ``"$."``), or
      two paths: the first where the id is sent (not absent, null or "");
      ``market_part``: (separator, index): the id is that part of the string there
      (``"market.btcusdt.ticker"`` with ``(".", 1)``: "btcusdt"; index -1: the last part);
      ``market_int``: the id is a whole number (a channel number).
    - ``lookup``: the codec's dict of ids, by attribute name (``"lookup"``: the market
      table's, behind ``codec.lookup``; an id may stand for a list of markets, a record
      each); ``skip_unknown``: a record of an id not in it is
      left out; by default such a frame is the Python path's, which checks the whole
      message's shape before it looks a market up (a route skipping it would not).
    - ``fields``: record field -> spec; ``market_fields``: record field -> the market's
      attribute (a derivative's kind, its expiry).
    - ``sequence``: (path, the codec's ``SequenceCheck`` attribute), for venues that number
      their messages per connection.
    - ``record``: Ticker, or Derivative.
    - ``quiet``: a message that makes no record (``Quiet``): the keys its object may have.
    """

    when: Mapping[str, str | None]
    market: str | tuple[str, str]
    fields: Mapping[str, Spec]
    items: str = ""
    lookup: str = "lookup"
    market_int: bool = False
    skip_unknown: bool = False
    sequence: tuple[str, str] | None = None
    record: type[Ticker] = Ticker
    market_fields: Mapping[str, str] = field(default_factory=dict)
    market_part: tuple[str, int] | None = None
    quiet: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        names = set(self._names())
        if unknown := set(self.fields) - names:
            raise TypeError(f"{self.record.__name__} has no field {', '.join(sorted(unknown))}")

    def _names(self) -> list[str]:
        return [f.name for f in msgspec.structs.fields(self.record)]


def Quiet(when: Mapping[str, str | None], keys: tuple[str, ...] = ()) -> Route:
    """A message that makes no record (a venue's heartbeat, sent per market each second by
    some), taken in C where ``parse_ws`` would return nothing for it: ``when`` holds, and the
    frame is an array (``when`` on its indices) or an object with no key but ``when``'s and
    ``keys`` (those parse_ws ignores of it), each once."""
    top = tuple(p.split(".")[0] for p in when)
    return Route(when=when, market="", fields={}, quiet=(*top, *keys))


def _steps(path: str) -> tuple[bytes | int, ...]:
    out: list[bytes | int] = []
    for part in path.split(".") if path else []:
        if part == "[only]":
            out.append(ONLY)
        elif part.isdigit():
            out.append(int(part))
        else:
            out.append(part.encode())
    return tuple(out)


def _where(path: str) -> tuple[bool, tuple[bytes | int, ...]]:
    path = path.removesuffix("?")
    if path.startswith("$."):
        return True, _steps(path[2:])
    return False, _steps(path)


def _segments(items: str) -> tuple[tuple[tuple[bytes | int, ...], int], ...]:
    """``"events[].tickers[]"`` -> ((("events",), 1), (("tickers",), 1)); ``"data{}"``:
    each value of the object "data" (2)."""
    out = []
    for part in items.split(".") if items else []:
        each = _ELEMENT if part.endswith("[]") else _MEMBER if part.endswith("{}") else 0
        out.append((_steps(part[:-2] if each else part), each))
    return tuple(out)


def _slot(spec: Any) -> tuple[Any, ...]:
    if spec is MARKET:
        return (_SELF,)
    if isinstance(spec, Text):
        return (_TEXT, ((*_where(spec.path), 0, spec.path.endswith("?")),))
    if isinstance(spec, MarketAttr):
        return (_MARKET, spec.name)
    if isinstance(spec, TimeAt):
        paths = (spec.paths,) if isinstance(spec.paths, str) else spec.paths
        units = [(p, spec.unit) if isinstance(p, str) else p for p in paths]
        if spec.unit == ISO:
            return (_ISO, tuple((*_where(p), 1, p.endswith("?")) for p, _ in units))
        if any(u == ISO for _, u in units):
            raise TypeError("RFC 3339 times and numbers are not alternatives of one TimeAt")
        return (_TIME, tuple((*_where(p), u, p.endswith("?")) for p, u in units))
    if isinstance(spec, Call):
        # values.minus, values.times and contracts.in_base: in C where it gives the same float
        kind = {minus: _MINUS, times: _TIMES, in_base: _IN_BASE}.get(spec.function, _CALL)
        return (kind, spec.function, tuple(_slot(a) for a in spec.args))
    paths = (spec,) if isinstance(spec, str) else spec
    return (
        _NUM,
        tuple((*_where(p.lstrip("!")), int(p.startswith("!")), p.endswith("?")) for p in paths),
    )


def declared(cls: type[Codec]) -> tuple[Route, ...]:
    """The routes a codec class declares itself: a subclass (a venue's derivatives codec,
    another venue on the same protocol) reads its frames in C only where it says so
    (``ROUTES = OKX.ROUTES``), never by inheriting routes that another parse_ws matches."""
    return vars(cls).get("ROUTES", ())  # type: ignore[no-any-return]


def compile_route(route: Route, codec: Codec) -> tuple[Any, ...] | None:
    """The route as _frames.Reader takes it, bound to this codec's dicts; None when the
    codec's ids are not a dict (a lookup that is a function)."""
    if route.quiet is not None:
        keys = tuple(k.encode() for k in route.quiet)
        return (_conds(route), (), (((0, ()),), False, {}, None), None, route.record, (), False,
                False, keys)  # fmt: skip
    if route.lookup == "lookup":
        table = getattr(codec.lookup, "__self__", None)
    else:
        table = getattr(codec, route.lookup, None)
    if type(table) is not dict:
        return None
    seq = None
    if route.sequence is not None:
        path, attr = route.sequence
        seq = (_steps(path), getattr(codec, attr).expected)
    conds = _conds(route)
    names = route._names()
    fixed = {"exchange", "symbol", "native", "ts_recv"}
    wanted = set(route.fields) | set(route.market_fields) | fixed
    last = max(names.index(n) for n in wanted)
    slots: list[tuple[Any, ...]] = []
    defaults = _defaults(route.record)
    for name in names[: last + 1]:
        if name == "exchange":
            slots.append((_CONST, codec.venue))
        elif name in ("symbol", "native"):
            slots.append((_MARKET, name))
        elif name == "ts_recv":
            slots.append((_TS_RECV,))
        elif name in route.fields:
            slots.append(_slot(route.fields[name]))
        elif name in route.market_fields:
            slots.append((_MARKET, route.market_fields[name]))
        else:
            default = defaults[name]
            if default is msgspec.NODEFAULT:
                raise TypeError(f"{route.record.__name__}.{name} has no default: declare it")
            slots.append((_CONST, default))
    alternatives = (route.market,) if isinstance(route.market, str) else route.market
    where: tuple[tuple[int, tuple[bytes | int, ...]], ...] = tuple(
        (2, ()) if m == KEY else (int(_where(m)[0]), _where(m)[1]) for m in alternatives
    )
    part = route.market_part
    split = None if part is None else (part[0].encode(), part[1])
    market = (where, route.market_int, table, split)
    segments = _segments(route.items)
    is_array = _item_is_array(route)
    return (conds, segments, market, seq, route.record, tuple(slots), route.skip_unknown, is_array,
            None)  # fmt: skip


def _conds(route: Route) -> tuple[tuple[Any, ...], ...]:
    return tuple(
        (_steps(p), None if v is None else v.rstrip("*").encode(), bool(v and v.endswith("*")))
        for p, v in route.when.items()
    )


def _item_is_array(route: Route) -> bool:
    """Whether a route's items are arrays (read by index: ``"1.0"``) or objects (by key):
    by its item-relative paths, which must agree."""
    paths = [p for spec in route.fields.values() for p in _paths(spec) if not p.startswith("$.")]
    if (
        isinstance(route.market, str)
        and route.market not in (KEY,)
        and not route.market.startswith("$.")
    ):
        paths.append(route.market)
    kinds = {_steps(p.lstrip("!"))[0].__class__ is int for p in paths if _steps(p.lstrip("!"))}
    if len(kinds) > 1:
        raise TypeError("a route reads its items both by index and by key")
    return kinds == {True}


def _paths(spec: Any) -> list[str]:
    """The paths a field spec reads."""
    if isinstance(spec, str):
        return [spec.removesuffix("?")]
    if isinstance(spec, tuple):
        return [p.removesuffix("?") for p in spec]
    if isinstance(spec, TimeAt):
        paths = (spec.paths,) if isinstance(spec.paths, str) else spec.paths
        return [(p if isinstance(p, str) else p[0]).removesuffix("?") for p in paths]
    if isinstance(spec, Call):
        return [p for a in spec.args for p in _paths(a)]
    if isinstance(spec, Text):
        return [spec.path.removesuffix("?")]
    return []


def reader(
    codec: Codec, fallback: Callable[[bytes], Any], emitter: Emitter, conn: Connection
) -> Callable[[bytes], Any] | None:
    """The compiled reader of the codec's routes for one session, handing what they do not
    describe to ``fallback`` (the Python path); None where it cannot serve: not built, no
    routes, raw capture on, or a connection that does not end its reads itself."""
    routes = declared(type(codec))
    if _frames is None or not routes or emitter.recorder is not None or not conn.read_end:
        return None
    if emitter.publish_batch is None:
        return None
    program = program_of(codec, routes)
    if program is None:
        return None
    return _frames.Reader(  # type: ignore[no-any-return]
        program, fallback, conn, emitter.reading, emitter.flush, emitter.FLUSH_AT, gunzip
    )


# A table's compiled programs, by codec class, where they depend on the table alone (every
# route looks markets up in the table and numbers no messages): one for all the sessions of
# a venue's markets, not one each (a few KB per connection, hundreds of connections).
_PROGRAMS: weakref.WeakKeyDictionary[Any, dict[type, tuple[Any, ...]]] = weakref.WeakKeyDictionary()


@functools.cache
def _defaults(record: type) -> dict[str, Any]:
    """The record class's fields' defaults (msgspec resolves its annotations each time it is
    asked: once a class, not once a session)."""
    return {f.name: f.default for f in msgspec.structs.fields(record)}


def program_of(codec: Codec, routes: tuple[Route, ...]) -> tuple[Any, ...] | None:
    """The codec's routes compiled for its session (None: a lookup that is no dict)."""
    shared = all(r.lookup == "lookup" and r.sequence is None for r in routes)
    table = getattr(codec, "table", None)
    cached = _PROGRAMS.get(table) if shared and table is not None else None
    if cached is not None and type(codec) in cached:
        return cached[type(codec)]
    program = []
    for route in routes:
        compiled = compile_route(route, codec)
        if compiled is None:
            return None
        program.append(compiled)
    compiled_program = tuple(program)
    if shared and table is not None and getattr(codec.lookup, "__self__", None) is table.by_id:
        _PROGRAMS.setdefault(table, {})[type(codec)] = compiled_program
    return compiled_program


def compiled_reader(program: tuple[Any, ...]) -> Any:
    """A reader of compiled routes with no session (for the tests and the benchmarks)."""
    if _frames is None:
        raise RuntimeError("aggregator._frames is not built")
    return _frames.Reader(program, inflate=gunzip)


def read(codec: Codec, raw: bytes, ts_recv: int) -> list[Ticker] | None:
    """The records the codec's routes make of a frame, or None where they do not describe
    it (for the tests, and ``normalize``'s comparisons)."""
    if _frames is None:
        raise RuntimeError("aggregator._frames is not built")
    compiled = _READERS.get(codec)
    if compiled is None:
        routes = declared(type(codec))
        program = tuple(p for r in routes if (p := compile_route(r, codec)) is not None)
        compiled = _READERS[codec] = compiled_reader(program)
    return compiled.read(raw, ts_recv)  # type: ignore[no-any-return]


_READERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
