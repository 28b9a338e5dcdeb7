"""The per-venue table of the record fields each venue fills: docs/fields.md, made from the
codecs (not written by hand). Each venue's codec is run over its recorded payloads in
tests/fixtures (ws/, ws-beyond/, rest/, and rest-doc/ where nothing was recorded: payloads
from the venue's documentation), else over what its simulator sends; a field is filled when
any record has it non-null.

    python -m tests.fields_table          # write docs/fields.md
    python -m tests.fields_table --check  # exit 1 if it is not what this makes
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import orjson

from aggregator.adapters.registry import ADAPTERS, codec_class, modes
from aggregator.capture import CaptureTable, unwrap
from aggregator.errors import VenueError
from aggregator.records import MARKET_FIELDS, Ticker
from aggregator.sim.dialects import ConnState, simulated
from aggregator.sim.server import VenueSim
from aggregator.symbols import MarketTable, snapshot_path

FIXTURES = Path(__file__).parent / "fixtures"
DOC = Path(__file__).parent.parent / "docs" / "fields.md"
COLUMNS = (*MARKET_FIELDS, "ts_event")
TS = 1_786_562_853_489_674_268
SOURCES = {"ws": ("ws", "ws-beyond"), "rest": ("rest", "rest-doc")}


def records(venue: str, mode: str) -> tuple[list[Ticker], str]:
    """Every record the venue's codec makes of its fixtures in one mode, and which kind of
    fixture they came from ("" when there is none)."""
    cls = codec_class(venue)
    known = cls.markets_from(snapshot_path(venue).read_bytes())
    for kind in SOURCES[mode]:
        path = FIXTURES / kind / f"{venue}.json"
        if not path.exists():
            continue
        out: list[Ticker] = []
        for entry in json.loads(path.read_text()):
            symbol = (entry.get("input") or [None])[0]
            symbol = symbol[0] if isinstance(symbol, list) else symbol
            if isinstance(symbol, str) and ":" in symbol:
                continue  # a derivative: the spot codecs do not read them
            table = CaptureTable(known, venue, cls.RENAMES)
            codec = cls(table)
            if mode == "ws":
                for message in entry.get("messages", []):
                    frame, _ = unwrap(message)
                    with contextlib.suppress(VenueError):  # an error frame: no record
                        out += codec.parse_frame(json.dumps(frame), TS)
            elif "httpResponse" in entry:
                market = known.by_symbol.get(symbol) if isinstance(symbol, str) else None
                body = json.dumps(entry["httpResponse"]).encode()
                with contextlib.suppress(VenueError):  # an order book, an older API
                    out += codec.parse_rest(body, TS, market)
        if out:
            return out, "recorded" if kind in ("ws", "rest") else "documented"
    if venue in simulated():
        return _simulated(venue, mode, known), "simulator"
    return [], ""


def _simulated(venue: str, mode: str, known: MarketTable) -> list[Ticker]:
    """The codec on what the venue's simulator (aggregator/sim, written from the venue's
    documentation) sends a subscribed client, or answers its REST requests."""
    sim = VenueSim(venue, seed=1)
    codec = codec_class(venue)(known)
    markets = list(known.markets)
    out: list[Ticker] = []
    if mode == "ws":
        state = ConnState()
        frames = list(sim.dialect.on_connect(state))
        for message in codec.subscribe(markets):
            frames += sim.dialect.on_message(state, orjson.loads(message))
        for native in sorted(state.subscribed & set(sim.quotes)):
            frames += sim.dialect.tick(state, sim.quotes[native])
        for frame in frames:
            with contextlib.suppress(VenueError):
                out += codec.parse_frame(frame, TS)
        return out
    for req in codec.rest_requests("http://127.0.0.1", markets):
        url = urlsplit(req.url)
        status, body = sim.dialect.rest(url.path, dict(parse_qsl(url.query)), sim.quotes)
        if status == 200:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            with contextlib.suppress(VenueError):
                out += codec.parse_rest(data, TS, req.market)
    return out


def table() -> str:
    head = "| venue | mode | from | " + " | ".join(COLUMNS) + " |"
    rows = [head, "|" + "---|" * (len(COLUMNS) + 3)]
    for venue in sorted(ADAPTERS):
        for mode in modes(venue):
            recs, source = records(venue, mode)
            if not recs:
                rows.append(f"| {venue} | {mode} | no payload |" + " |" * len(COLUMNS))
                continue
            filled = [any(getattr(r, c) is not None for r in recs) for c in COLUMNS]
            cells = " | ".join("yes" if f else "null" for f in filled)
            rows.append(f"| {venue} | {mode} | {source} | {cells} |")
    return "\n".join(rows)


def document() -> str:
    return f"""# Which fields each venue fills

Made by `python -m tests.fields_table` from the codecs: each venue's codec is run over the
payloads in `tests/fixtures` (recorded from the venue; "documented" where none was recorded and
the payloads come from the venue's API documentation; "simulator" where neither is there and
the frames come from the venue's simulator in `aggregator/sim`, written from that
documentation), and a field is `yes` when a record had
it, `null` when none did. A `null` here is the venue's: it does not send that value on that
API, so a null in the data is not a gap (gaps are status records). The stream's records of a
venue whose channels are merged (a book channel and a ticker channel) carry both once each
has sent a message. `ts_event` is the venue's own time of the values; `ts_recv`, `seq` and the
names are always filled. "no payload": no recorded or documented payload to run the codec on.

{table()}
"""


def main(argv: list[str]) -> int:
    text = document()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} is not what the codecs make: run python -m tests.fields_table")
            return 1
        return 0
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
