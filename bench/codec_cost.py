"""The codec's cost per recorded frame, before and after a change: parse_ws only.

    python bench/codec_cost.py --before <git revision> [--runs 5] [--passes 200] [venue ...]
    python bench/codec_cost.py --routing    # okx and gate: one declaration or envelope + Raw

The "before" codec is the venue's module at the given revision (``git show``), imported
beside the working tree's; both run on the same frames: the venue's recorded frames of
tests/fixtures/ws/ and tests/fixtures/sessions/, every frame of each (acks and heartbeats
included), on a codec that went through ``subscribe``, with a table of every market the
frames name (as a daemon subscribed to them all would have). Coinbase's sequence numbers
are renumbered consecutively so that no frame is a gap. Runs alternate between before and
after; each run is ``--passes`` passes, each on a fresh codec primed (untimed) with all
the frames, so that stateful codecs know their channels. The figure is CPU time
(process_time) per frame, the median of the runs, for the frames that make records
("data"), the others (acks, heartbeats, channels the daemon does not subscribe to) and
all of them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from aggregator.adapters.registry import codec_class  # noqa: E402
from aggregator.errors import VenueError  # noqa: E402
from aggregator.symbols import Market, MarketTable  # noqa: E402

VENUES = ("okx", "coinbase", "kraken", "bitfinex", "gate")
FIXTURES = ROOT / "tests" / "fixtures"


def frames_of(venue: str) -> list[Any]:
    """The venue's recorded frames, as decoded JSON (or text where they are not JSON)."""
    frames: list[Any] = []
    for kind in ("ws", "sessions"):
        path = FIXTURES / kind / f"{venue}.json"
        if path.exists():
            for entry in json.loads(path.read_text()):
                # a session's messages are {"recv_ts", "raw": the frame's text}
                for m in entry["messages"]:
                    text = m["raw"] if kind == "sessions" else m
                    try:
                        frames.append(json.loads(text) if isinstance(text, str) else text)
                    except ValueError:
                        frames.append(text)
    return frames


def encoded(frames: list[Any], first: int = 0) -> list[bytes]:
    """The frames as bytes; coinbase's sequence numbers made consecutive from ``first``, so
    that no frame of a run is a gap."""
    out = []
    for f in frames:
        if isinstance(f, dict) and "sequence_num" in f:
            f = {**f, "sequence_num": first}
            first += 1
        out.append((f if isinstance(f, str) else json.dumps(f)).encode())
    return out


def module_at(revision: str, venue: str, where: Path) -> ModuleType:
    """The venue's codec module as it was at ``revision``, imported under another name."""
    text = subprocess.run(
        ["git", "show", f"{revision}:aggregator/adapters/{venue}.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    text = re.sub(r"^from \.\.(\w*) import", r"from aggregator.\1 import", text, flags=re.M)
    text = re.sub(r"^from \.(\w+) import", r"from aggregator.adapters.\1 import", text, flags=re.M)
    path = where / f"before_{venue}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # msgspec resolves a Struct's annotations through it
    spec.loader.exec_module(module)
    return module


def table_of(cls: Any, frames: list[bytes]) -> MarketTable:
    """A table of every market id the codec looks up in the frames."""
    asked: dict[str, None] = {}

    class Recorder(MarketTable):
        def __init__(self) -> None:
            super().__init__([])
            self.lookup = self.ask

        @staticmethod
        def ask(native: object) -> Market | None:
            if isinstance(native, str) and native:
                asked[native] = None
                return Market(f"M{len(asked)}/ANY", native)
            return None

    run_once(cls(Recorder()), frames)
    return MarketTable([Market(f"M{i}/ANY", n) for i, n in enumerate(asked)])


def fresh(cls: Any, table: Any, frames: list[bytes]) -> Any:
    """A codec after ``subscribe`` and one pass over the frames (bitfinex learns its
    channel ids; coinbase's sequence then restarts once a pass, one gap, on both sides)."""
    codec = cls(table)
    codec.subscribe(list(table.markets))
    run_once(codec, frames)
    return codec


def run_once(codec: Any, frames: list[bytes]) -> tuple[int, int]:
    records = errors = 0
    parse = codec.parse_ws
    for f in frames:
        try:
            records += len(parse(f, 1))
        except VenueError:
            errors += 1
    return records, errors


def timed(
    cls: Any, table: MarketTable, primer: list[bytes], frames: list[bytes], passes: int
) -> float:
    """us of CPU per frame over ``passes`` passes, each on a codec primed with ``primer``
    (untimed)."""
    spent = 0.0
    for _ in range(passes):
        parse = fresh(cls, table, primer).parse_ws
        start = time.process_time()
        for f in frames:
            try:  # noqa: SIM105 (suppress() costs a context manager a frame)
                parse(f, 1)
            except VenueError:
                pass
        spent += time.process_time() - start
    return spent / (passes * len(frames)) * 1e6


# Where a venue's channels share one envelope: the field that carries the channel's payload.
PAYLOAD = {"okx": ("PUSH", "data"), "gate": ("PUSH", "result")}


def routing(venue: str, runs: int, passes: int) -> None:
    """The decode alone, two ways, on the frames that make records: the one declaration
    the codec uses (both channels' fields in one Struct, one pass), against an envelope
    whose payload is msgspec.Raw, decoded again by the payload's own decoder."""
    module = sys.modules[codec_class(venue).__module__]
    schema_name, field = PAYLOAD[venue]
    declared = getattr(module, schema_name).type
    fields = msgspec.structs.fields(declared)
    payload_type = next(f.type for f in fields if f.name == field)
    envelope = msgspec.defstruct(
        "Envelope",
        [
            (f.name, msgspec.Raw, msgspec.Raw(b"null"))
            if f.name == field
            else (f.name, f.type, f.default)
            for f in fields
        ],
    )
    one = msgspec.json.Decoder(declared, strict=False).decode
    outer = msgspec.json.Decoder(envelope, strict=False).decode
    inner = msgspec.json.Decoder(payload_type, strict=False).decode

    def two(frame: bytes) -> Any:
        return inner(getattr(outer(frame), field))

    items = frames_of(venue)
    frames = encoded(items)
    probe = fresh(codec_class(venue), table_of(codec_class(venue), frames), [])
    data = [f for f in frames if _makes_records(probe, f)]
    figures: dict[str, list[float]] = {"one pass": [], "envelope + Raw": []}
    for _ in range(runs):
        for label, decode in (("one pass", one), ("envelope + Raw", two)):
            start = time.process_time()
            for _ in range(passes):
                for f in data:
                    decode(f)
            figures[label].append((time.process_time() - start) / (passes * len(data)) * 1e6)
    a, b = (statistics.median(v) for v in figures.values())
    print(f"| {venue} | {len(data)} | {a:.2f} | {b:.2f} | {b / a:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", help="git revision of the codecs to compare")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--passes", type=int, default=200)
    ap.add_argument("--routing", action="store_true", help="compare the ways to route channels")
    ap.add_argument("venues", nargs="*", default=list(VENUES))
    args = ap.parse_args()
    if args.routing:
        print("| venue | data frames | one pass us/frame | envelope + Raw us/frame | ratio |")
        print("|---|---|---|---|---|")
        for venue in PAYLOAD:
            routing(venue, args.runs, args.passes)
        return
    if not args.before:
        ap.error("--before is required (unless --routing)")
    print("| venue | frames | before us/frame | after us/frame | after/before |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for venue in args.venues:
            after_cls = codec_class(venue)
            before_cls = getattr(module_at(args.before, venue, Path(tmp)), after_cls.__name__)
            items = frames_of(venue)
            frames = encoded(items)
            table = table_of(before_cls, frames)
            counts = {
                side: run_once(fresh(cls, table, []), frames)
                for side, cls in (("before", before_cls), ("after", after_cls))
            }
            if counts["before"][0] != counts["after"][0]:
                sys.exit(f"{venue}: records differ, {counts}")
            # the frames that make records, and the rest (acks, heartbeats, other channels)
            probe = fresh(after_cls, table, [])  # in order, as a connection reads them
            makes = [_makes_records(probe, f) for f in frames]
            subsets = {
                "data": [f for f, m in zip(items, makes, strict=True) if m],
                "other": [f for f, m in zip(items, makes, strict=True) if not m],
                "all": items,
            }
            for label, subset in subsets.items():
                if not subset:
                    continue
                run = encoded(subset, first=len(items))
                figures: dict[str, list[float]] = {"before": [], "after": []}
                for _ in range(args.runs):  # interleaved
                    for side, cls in (("before", before_cls), ("after", after_cls)):
                        figures[side].append(timed(cls, table, frames, run, args.passes))
                b, a = (statistics.median(figures[s]) for s in ("before", "after"))
                print(
                    f"| {venue} ({label}) | {len(run)} | {b:.2f} | {a:.2f} | {a / b:.2f} |",
                    flush=True,
                )


def _makes_records(codec: Any, frame: bytes) -> bool:
    try:
        return bool(codec.parse_ws(frame, 1))
    except VenueError:
        return False


if __name__ == "__main__":
    main()
