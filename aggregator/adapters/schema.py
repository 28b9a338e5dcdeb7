"""Declared venue messages: msgspec Structs decoded from a frame's bytes in one step.

A codec declares each channel's message as Structs whose number fields are ``Num`` (a
finite float, or null) and whose times are ``Time`` (an integer, or null), and decodes a
frame with the ``Schema`` of its outermost type, built once when the codec's module is
imported. Decoding is lax (``strict=False``): a venue's "63707.3" is the float 63707.3,
exactly what ``float()`` makes of it (tests/test_schema.py checks this), and its
"1786613174873" the int; the codec passes times through ``aggregator.timestamps``.

A frame whose values do not fit the declaration ("abc", "NaN", "", true, an object, 1e400)
is not dropped: it is decoded again with the declaration's permissive twin, where every
number and time is taken as sent, and each number becomes what ``records.num`` makes of
it (BAD, or None for "" and null) in an instance of the declared type. The codec sees the
same types on both paths, and a bad value is null and flagged as it always was. Only the
sign of "-0" (as a string) is lost on the fast path: it comes out 0.0.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

import msgspec

from ..errors import ParseError
from ..records import num
from .base import json_body

# A finite float: NaN and the infinities, which lax decoding reads from "NaN" or "inf",
# fail the bounds and send the frame to the permissive twin (BAD there, as num() says).
Number = Annotated[float, msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)]
Num = Number | None
Time = int | None  # a time in the venue's unit; "1786613174873" decodes to the int

T = TypeVar("T")
Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


class Schema(Generic[T]):
    """Decodes one message type from bytes: the declared decoder first, and on a value
    that does not fit it, the permissive twin with the numbers read by ``num``.

    A frame that is not JSON is the ParseError ``base.json_body`` raises; one whose shape
    (not its values) is unexpected even for the twin is a ParseError naming the path.
    """

    __slots__ = ("_convert", "_decode", "_loose", "_loose_type", "type")

    def __init__(self, declared: type[T]) -> None:
        self.type = declared
        self._decode = msgspec.json.Decoder(declared, strict=False).decode
        self._loose_type, self._convert = _twin(declared)
        self._loose = msgspec.json.Decoder(self._loose_type, strict=False).decode

    def __call__(self, raw: str | bytes) -> T:
        try:
            return self._decode(raw)  # type: ignore[no-any-return]
        except msgspec.ValidationError:
            return self.permissive(raw)
        except msgspec.DecodeError:
            json_body(raw)  # its ParseError quotes the start of what came
            raise ParseError(f"not JSON: {raw[:60]!r}") from None

    def permissive(self, raw: str | bytes) -> T:
        """The frame through the twin: bad numbers as BAD, everything else as declared."""
        try:
            loose = self._loose(raw)
        except msgspec.ValidationError as e:
            json_body(raw)  # a number out of range (1e400) is not JSON to orjson either
            raise ParseError(f"unexpected payload: {e}") from None
        except msgspec.DecodeError:
            json_body(raw)
            raise ParseError(f"not JSON: {raw[:60]!r}") from None
        return self._convert(loose)  # type: ignore[no-any-return]

    def convert(self, obj: Any) -> T:
        """An object already decoded (a list out of ``json_body``), as ``__call__`` would
        have decoded its JSON."""
        try:
            return msgspec.convert(obj, self.type, strict=False)
        except msgspec.ValidationError:
            pass
        try:
            loose = msgspec.convert(obj, self._loose_type, strict=False)
        except msgspec.ValidationError as e:
            raise ParseError(f"unexpected payload: {e}") from None
        return self._convert(loose)  # type: ignore[no-any-return]


# --- the permissive twin --------------------------------------------------------------------

_TWINS: dict[type, tuple[type, Convert]] = {}


def _twin(declared: Any) -> tuple[Any, Convert]:
    """The type that accepts what ``declared`` would refuse for its values, and the function
    that turns what it decodes into what ``declared`` would have made."""
    if _is_number(declared):
        return Any, num
    if isinstance(declared, type) and issubclass(declared, msgspec.Struct):
        return _struct_twin(declared)
    origin, args = get_origin(declared), get_args(declared)
    if origin is list:
        item, convert = _twin(args[0])
        if item is Any:  # numbers, or lists of them: any value, read where it is a list
            return Any, lambda v: [convert(x) for x in v] if type(v) is list else v
        return list[item], lambda v: [convert(x) for x in v]  # type: ignore[valid-type]
    if origin is Union or origin is types.UnionType:
        return _union_twin(args)
    if declared is msgspec.Raw:
        return declared, _same
    return Any, _same  # str, int, bool, Time, Any: taken as sent


def _is_number(t: Any) -> bool:
    """Num, Number or float: a field ``num`` reads on the permissive path."""
    if get_origin(t) is Union or get_origin(t) is types.UnionType:
        members = [m for m in get_args(t) if m is not type(None)]
        return len(members) == 1 and _is_number(members[0])
    if get_origin(t) is Annotated:
        t = get_args(t)[0]
    return t is float


def _union_twin(members: tuple[Any, ...]) -> tuple[Any, Convert]:
    """A union of Structs and lists (one of each at most, as msgspec allows) and None."""
    present = [m for m in members if m is not type(None)]
    if len(present) == 1:
        t, one = _twin(present[0])
        if t is Any:
            return Any, one  # its converter takes None too
        return t | None, lambda v: None if v is None else one(v)  # type: ignore[operator]
    structs: list[tuple[type, Convert]] = []
    lists: list[tuple[Any, Convert]] = []
    loose: list[Any] = []
    for m in members:
        if m is type(None):
            loose.append(m)
            continue
        t, convert = _twin(m)
        if t is Any:
            return Any, _same  # a scalar member: anything goes, taken as sent
        loose.append(t)
        (lists if get_origin(m) is list else structs).append((t, convert))

    def pick(value: Any) -> Any:
        if value is None:
            return None
        found = lists if isinstance(value, list) else structs
        return found[0][1](value) if found else value

    return Union[tuple(loose)], pick  # noqa: UP007 (built at run time)


def _struct_twin(declared: type[msgspec.Struct]) -> tuple[type, Convert]:
    if declared in _TWINS:
        return _TWINS[declared]
    fields = msgspec.structs.fields(declared)
    specs = []
    converts = []
    for f in fields:
        t, field_convert = _twin(f.type)
        spec = msgspec.field(  # type: ignore[call-overload]
            default=f.default, default_factory=f.default_factory, name=f.encode_name
        )
        specs.append((f.name, t, spec))
        converts.append(field_convert)
    config = declared.__struct_config__
    loose = msgspec.defstruct(
        f"Permissive{declared.__name__}",
        specs,
        array_like=config.array_like,
        forbid_unknown_fields=config.forbid_unknown_fields,
        tag=config.tag,
        tag_field=config.tag_field,
    )
    names = [f.name for f in fields]
    pairs = list(zip(names, converts, strict=True))

    def convert(value: Any) -> Any:
        return declared(*[c(getattr(value, n)) for n, c in pairs])

    _TWINS[declared] = (loose, convert)
    return loose, convert
