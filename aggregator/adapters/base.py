"""The venue codec: endpoints, subscribe messages, parsers from payloads to records; no I/O.

A venue module declares a ``Codec``; the connection loops that run it live in ``runner``.
"""

from __future__ import annotations

import functools
import logging
import random
import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import quote

import orjson

from ..errors import ParseError, SequenceGap, VenueError
from ..records import Ticker
from ..symbols import NO_RENAMES, Market, MarketTable, is_unified, unify

if TYPE_CHECKING:
    from .routes import Route

log = logging.getLogger(__name__)
T = TypeVar("T")

WS_MAX_FRAME = 16 * 1024 * 1024
# What a codec raises on a payload whose shape changed under it: reported, never fatal.
SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)
REST_MAX_BODY = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RestRequest:
    url: str
    market: Market | None = None  # set when the response does not name its market
    method: str = "GET"
    json: Any = None


def per_market(markets: Sequence[Market], before: str, after: str = "") -> list[RestRequest]:
    """A request per market, for a venue whose tickers are asked for one market at a time:
    at ``before``, the market's id escaped for a URL ("/" too), then ``after``."""
    return [RestRequest(f"{before}{quote(m.native, safe='')}{after}", market=m) for m in markets]


def one_or_all(
    markets: Sequence[Market], one: Callable[[Market], str], every: str
) -> list[RestRequest]:
    """The request of a venue with an endpoint of all its tickers and a lighter one of one
    market's: at ``one(m)`` when ``m`` is the only market asked for, else at ``every``."""
    if len(markets) == 1:
        m = markets[0]
        return [RestRequest(one(m), market=m)]
    return [RestRequest(every)]


class Codec:
    """How to talk to one venue, with no I/O: subclass per venue.

    ``table`` holds the markets this codec may emit (the subscribed ones in the daemon,
    all known ones in ``aggregator normalize``); a payload naming another market yields
    no record.
    """

    venue: ClassVar[str] = ""  # the id its records carry as ``exchange``
    # The venue's currency codes that mean another coin elsewhere (upper-case, for
    # ``symbols.unify``): its listing of "WAX" is what everyone else calls "WAXP", say.
    RENAMES: ClassVar[Mapping[str, str]] = NO_RENAMES
    WS_URL: ClassVar[str] = ""
    REST_URL: ClassVar[str] = ""  # base URL; rest_requests() appends paths
    MARKETS_URL: ClassVar[str] = ""
    MARKETS_POST: ClassVar[Any] = None  # a JSON body: the markets endpoint wants a POST
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    PING_INTERVAL: ClassVar[float | None] = 20.0  # WebSocket protocol pings
    APP_PING_INTERVAL: ClassVar[float | None] = None  # the venue's own ping message
    MERGE: ClassVar[bool] = False  # several channels update parts of one record
    # the hot messages, read in C (routes.py); parse_ws takes every other frame
    ROUTES: ClassVar[tuple[Route, ...]] = ()
    REST_RATE: ClassVar[float] = 1.0  # requests per second when polling symbol by symbol
    POLL_INTERVAL: ClassVar[float] = 2.0  # seconds between polls, unless the config says
    # Seconds without a record before a connection counts as stale (unless the config says):
    # twice or more the slowest channel's period. /health allows twice this.
    STALE_AFTER: ClassVar[float] = 30.0
    # A venue that serves its channels on several endpoints (paths of one host): its
    # ``routes()`` are codec classes, one per endpoint, each subscribing the channels there;
    # the runner opens each connection once per route, at the route's ``route_url``.
    ROUTE: ClassVar[str] = ""
    # Venues that hand out a WebSocket endpoint and token over REST first (a POST to
    # rest_url + WS_TOKEN_PATH, answered to ws_url_from_token).
    WS_TOKEN_PATH: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Make the REST parser and the markets rows raise ParseError on a payload of another
        shape.

        (Not parse_ws: it is the hot path, and the WebSocket loop converts the same errors.)
        """
        super().__init_subclass__(**kwargs)
        for name in ("parse_rest", "market_rows"):
            if name in cls.__dict__:
                raw = cls.__dict__[name]
                setattr(cls, name, _shape_checked(raw))

    def __init__(self, table: MarketTable) -> None:
        self.table = table
        self.lookup = table.lookup
        # Messages the venue expects in answer to one it sent (its pings, say).
        self.replies: list[str] = []
        # Seconds between app_ping() calls on this connection (a venue may say, per session).
        self.app_ping_interval: float | None = self.APP_PING_INTERVAL

    # --- WebSocket ---------------------------------------------------------------------
    @classmethod
    def routes(cls) -> tuple[type[Codec], ...]:
        """The codec of each endpoint a connection's channels are spread over (most venues:
        one, this one)."""
        return (cls,)

    @classmethod
    def route_url(cls, base: str) -> str:
        """The URL of this route's endpoint, from the configured (or the venue's) one."""
        return base

    @classmethod
    def route_markets(cls, markets: Sequence[Market]) -> list[Market]:
        """The markets this route's endpoint serves (a route serving none is not opened)."""
        return list(markets)

    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        raise NotImplementedError

    def app_ping(self) -> str | None:
        return None

    def ws_url_from_token(self, body: bytes, configured: str) -> str:
        """The URL to connect to, from the token response (venues with WS_TOKEN_PATH)."""
        raise NotImplementedError

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Records from one frame; [] for acks and heartbeats; ParseError/VenueError else."""
        raise NotImplementedError

    def parse_frame(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """``parse_ws`` raising ParseError on a payload of another shape, as the runner reports it.

        For callers off the hot path (``aggregator normalize``, tests): the only errors out of
        here are VenueError subclasses.
        """
        try:
            return self.parse_ws(raw, ts_recv)
        except SHAPE_ERRORS as e:
            raise ParseError(f"unexpected payload: {e!r}") from None

    # --- REST --------------------------------------------------------------------------
    def followed(self, rows: list[Any], key: str) -> Iterator[tuple[dict[str, Any], Market]]:
        """The ticker objects of a venue's list that are of markets this codec follows, each
        with its market, looked up by the object's ``key`` field; ParseError if an item is
        not an object. (An id of the wrong type is a TypeError: a ParseError for the parsers.)
        """
        lookup = self.lookup
        for t in rows:
            if not isinstance(t, dict):
                raise ParseError("expected ticker objects")
            m = lookup(t.get(key, ""))
            if m is not None:
                yield t, m

    def keyed(self, tickers: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Market]]:
        """The ticker objects of a venue's object keyed by market id that are of markets this
        codec follows, each with its market; ParseError if one of them is not an object."""
        lookup = self.lookup
        for key, t in tickers.items():
            m = lookup(key)
            if m is not None:
                if not isinstance(t, dict):
                    raise ParseError(f"ticker of {key} is not an object")
                yield t, m

    def keyed_as(
        self, raws: Mapping[str, Any], decode: Callable[[Any], T]
    ) -> Iterator[tuple[T, Market]]:
        """The tickers of a venue's object keyed by market id, kept as sent (``msgspec.Raw``),
        that are of markets this codec follows: each decoded by ``decode`` (its ``Schema``),
        with its market. A ticker of a market not followed is not decoded at all."""
        lookup = self.lookup
        for key, raw in raws.items():
            m = lookup(key)
            if m is not None:
                yield decode(raw), m

    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        raise NotImplementedError

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        raise NotImplementedError

    # --- markets -----------------------------------------------------------------------
    @classmethod
    def markets_urls(cls, url: str) -> list[str]:
        """The markets endpoints to ask, from the configured (or the venue's) one: most
        venues have one; a venue whose markets of a kind are listed by two (Binance's USDⓈ-M
        and COIN-M futures) has its codec join their answers (``joined_markets``)."""
        return [url]

    @staticmethod
    def joined_markets(bodies: list[bytes]) -> bytes:
        """The answers of ``markets_urls`` as one markets response (as cached)."""
        raise NotImplementedError

    @staticmethod
    def market_rows(body: bytes) -> Iterable[Any]:
        """The rows of the markets endpoint's response, one per market, as a list (not a
        generator: its shape is checked when it is called); a ParseError when the response
        is not such a list (an HTML page, an error object)."""
        raise NotImplementedError

    @staticmethod
    def market_of(row: Any) -> Market | list[Market] | None:
        """The spot market of one row (or the markets, for a row that makes several);
        None for a row left out on purpose (not spot, not trading). Whatever it raises
        marks the row malformed: it is skipped and counted, the other rows load."""
        raise NotImplementedError

    @staticmethod
    def rows_at(doc: Any, *path: str) -> list[Any]:
        """The list at ``path`` (keys of nested objects) in a decoded markets response, for
        ``market_rows``; a ParseError naming the path when it is missing or not a list."""
        node = _at(doc, path)
        if not isinstance(node, list):
            where = ".".join(path) or "the top"
            raise ParseError(f"expected a list of markets at {where}, got {_kind(node)}")
        return node

    @staticmethod
    def entries_at(doc: Any, *path: str, expected: str) -> list[tuple[str, Any]]:
        """The (id, description) pairs of the object at ``path`` in a decoded markets response,
        for the ``market_rows`` of a venue that lists its markets as an object keyed by id; a
        ParseError saying what was ``expected`` when it is missing or not an object."""
        node = _at(doc, path)
        if not isinstance(node, dict):
            raise ParseError(f"expected {expected}")
        return list(node.items())

    @classmethod
    def markets_from(cls, body: bytes) -> MarketTable:
        """The table of the response's markets. A malformed row (a missing key, a null, a
        number where a string was expected, a market with no usable ids) is skipped and
        counted in the table (``skipped``, ``first_skipped``); a response that is not a
        list of rows, or has no usable row, is a ParseError."""
        of = cls.market_of
        markets: list[Market] = []
        rows = skipped = 0
        first = ""
        for row in cls.market_rows(body):
            rows += 1
            try:
                made = of(row)
                if made is None:
                    continue
                made = [made] if isinstance(made, Market) else made
                for m in made:
                    if not _usable(m):
                        raise ValueError(f"no usable ids: {m.native!r} as {m.symbol!r}")
            except (*SHAPE_ERRORS, ParseError) as e:
                skipped += 1
                if not first:
                    why = f"no {e.args[0]!r}" if isinstance(e, KeyError) else str(e) or repr(e)
                    first = f"{_snippet(row)}: {why}"
                continue
            markets.extend(made)
        if not markets:
            more = f" ({skipped} of {rows} rows malformed; first: {first})" if skipped else ""
            raise ParseError(f"markets response lists no market{more}")
        table = MarketTable(markets)
        table.rows, table.skipped, table.first_skipped = rows, skipped, first
        return table


def _snippet(row: Any, n: int = 80) -> str:
    """A row as the log quotes it: its JSON, cut short."""
    try:
        text = orjson.dumps(row).decode()
    except TypeError:
        text = repr(row)
    return text if len(text) <= n else text[:n] + "..."


def _at(doc: Any, path: tuple[str, ...]) -> Any:
    """What is at ``path`` (keys of nested objects) in a decoded response; None if nothing."""
    node = doc
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _usable(m: Market) -> bool:
    """A market a table can hold and a record can name: string ids, a unified symbol."""
    return (
        isinstance(m.native, str)
        and m.native != ""
        and isinstance(m.symbol, str)
        and is_unified(m.symbol)
        and all(isinstance(i, str) and i for i in m.ids)
    )


def _shape_checked(method: Any) -> Any:
    static = isinstance(method, staticmethod)
    func = method.__func__ if static else method

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SHAPE_ERRORS as e:
            raise ParseError(f"unexpected payload: {e!r}") from None

    return staticmethod(checked) if static else checked


def pair_market(
    base: str,
    quote: str,
    native: str,
    *,
    renames: Mapping[str, str] = NO_RENAMES,
    ids: tuple[str, ...] = (),
) -> Market:
    """The spot market ``native`` of the venue's currencies ``base`` and ``quote``: its symbol
    their unified pair (``renames`` as in ``symbols.unify``), their ids kept as the venue
    spells them, for the URLs and messages that name a currency."""
    return Market(unify(base, quote, renames=renames), native, ids, base_id=base, quote_id=quote)


class SequenceCheck:
    """The number each key's next message must carry, for venues that number their messages
    one by one: per connection (the key None) or per market.

    ``start`` takes a snapshot's number, ``check`` each later message's. A number out of step
    forgets the key (nothing may be applied to it until a new snapshot) and raises
    SequenceGap, which says what was expected and what came.
    """

    __slots__ = ("expected",)

    def __init__(self) -> None:
        self.expected: dict[Hashable, int] = {}

    def start(self, seq: int, key: Hashable = None) -> None:
        self.expected[key] = seq + 1

    def forget(self, key: Hashable = None) -> None:
        self.expected.pop(key, None)

    def check(self, seq: int, key: Hashable = None, *, snapshot_first: bool = False) -> None:
        """``seq`` must follow the key's last number. A key with none yet starts at ``seq``,
        unless ``snapshot_first``: then only ``start`` begins it, and a message is a gap."""
        expected = self.expected.pop(key, None)
        if seq != expected and (expected is not None or snapshot_first):
            on = "" if key is None else f" on {key}"
            want = "a snapshot" if expected is None else expected
            raise SequenceGap(f"sequence gap{on}: expected {want}, got {seq}")
        self.expected[key] = seq + 1


def gunzip(raw: str | bytes) -> str | bytes:
    """A frame as sent, or inflated when it is gzip (the venues that compress every frame:
    htx, coinex and their derivatives); ParseError for a gzip frame that does not inflate."""
    if isinstance(raw, bytes) and raw[:2] == b"\x1f\x8b":
        try:
            return zlib.decompress(raw, 16 + zlib.MAX_WBITS)
        except zlib.error as e:
            raise ParseError(f"bad gzip frame: {e}") from None
    return raw


def json_body(body: str | bytes) -> Any:
    """Decode a venue payload, or raise ParseError quoting its start (an HTML page, say)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        text = body[:60] if isinstance(body, str) else body[:60].decode("utf-8", "replace")
        raise ParseError(f"not JSON ({e}): {text!r}") from None


def json_object(body: str | bytes) -> dict[str, Any]:
    """Decode a venue payload that must be a JSON object; ParseError if it is not one."""
    doc = json_body(body)
    if not isinstance(doc, dict):
        raise ParseError("expected a JSON object")
    return doc


def answer_code(code: Any, message: Any, ok: str = "0") -> None:
    """A REST answer's code, as venues that wrap their answers in {"code", "msg", "data"}
    send it: ``ok``, else the venue's error (VenueError); no code at all is a ParseError."""
    if code is None:
        raise ParseError("response without a code")
    if str(code) != ok:
        raise VenueError(f"venue error {code}: {message}")


def backoff_delay(attempt: int, initial: float, cap: float) -> float:
    """Capped exponential backoff with full jitter in [d/2, d]."""
    d = min(cap, initial * (2 ** min(attempt, 30)))
    return d * (0.5 + random.random() / 2)
