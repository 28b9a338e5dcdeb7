"""A venue's markets answer grown to a given number of markets, for the scale benchmark.

The shipped snapshots list a few markets per venue; the venues themselves list hundreds to a
few thousand. ``inflate`` makes a body in the venue's own format with ``n`` markets: it finds
the answer's list of market entries (the array or object with the most entries that name a
market), takes one entry as a template and clones it with the template's base currency
replaced by made-up codes (QAAA, QAAB, ...) in every string of the entry, keys included. The
result is checked with the venue's own parser: it must list at least the markets asked for,
each symbol once.

    python bench/inflate.py 1000     # how each simulated venue's answer grows, and its size
"""

from __future__ import annotations

import string
import sys
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.adapters.registry import codec_class
from aggregator.symbols import Market, snapshot_path

# Template bases, in order of preference: ones that no quote currency contains.
PREFERRED = ("ETH", "LTC", "XRP", "SOL", "ADA", "DOGE", "DOT", "LINK", "BCH", "XLM")


def code(k: int) -> str:
    """The k-th made-up currency code: QAAA, QAAB, ... (26**3 of them)."""
    letters = string.ascii_uppercase
    return "Q" + letters[k // 676 % 26] + letters[k // 26 % 26] + letters[k % 26]


def _containers(node: Any) -> list[list[Any] | dict[str, Any]]:
    found: list[list[Any] | dict[str, Any]] = []
    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, list):
            found.append(x)
            stack.extend(x)
        elif isinstance(x, dict):
            found.append(x)
            stack.extend(x.values())
    return found


def _replace(node: Any, old: str, new: str) -> Any:
    """``node`` with ``old`` replaced by ``new`` in every string (upper, lower and title case)."""
    if isinstance(node, str):
        for case in (str.upper, str.lower, str.capitalize):
            node = node.replace(case(old), case(new))
        return node
    if isinstance(node, (list, tuple)):
        return type(node)(_replace(x, old, new) for x in node)
    if isinstance(node, dict):
        return {_replace(k, old, new): _replace(v, old, new) for k, v in node.items()}
    return node


def _names(entry: Any, m: Market) -> bool:
    """Whether an entry of the answer is market ``m``'s: it holds one of its ids, or its base
    and quote currencies as strings of their own, or is its base currency (case aside)."""
    text = orjson.dumps(entry).lower()
    if text == orjson.dumps(m.base_id.lower()):
        return True
    if any(orjson.dumps(i.lower())[1:-1] in text for i in m.all_ids()):
        return True
    ends = [m.base_id, m.quote_id]
    return all(e and orjson.dumps(e.lower()) in text for e in ends)


def _templates(markets: list[Market]) -> list[tuple[Market, str]]:
    """(market, base token) pairs worth trying, the preferred bases first."""
    out = []
    for m in markets:
        base, quote = m.symbol.split("/")
        for token in (base, m.base_id):
            if token and token.lower() in m.native.lower() and token.lower() not in quote.lower():
                out.append((m, token))
                break
    out.sort(key=lambda mt: PREFERRED.index(mt[1].upper()) if mt[1].upper() in PREFERRED else 99)
    return out


def inflate(venue: str, body: bytes, n: int) -> bytes:
    """``body`` (the venue's markets answer) grown to list ``n`` markets (a few more where
    one entry makes several, as a currency list does); ``body`` itself if it lists that many
    already. Raises ValueError when no template gives a body that the venue's parser reads
    as distinct markets."""
    codec = codec_class(venue)
    markets = list(codec.markets_from(body).markets)
    if len(markets) >= n:
        return body
    doc = orjson.loads(body)

    def naming(box: list[Any] | dict[str, Any]) -> int:
        """How many of the container's entries name a market."""
        items = box.items() if isinstance(box, dict) else box
        return sum(any(_names(e, m) for m in markets) for e in items)

    box = max(_containers(doc), key=naming)
    entries = list(box.items()) if isinstance(box, dict) else list(box)
    for m, token in _templates(markets):
        # the entry that names this market
        hits = [e for e in entries if _names(e, m)]
        if len(hits) != 1:
            continue
        grown = _grown(doc, box, entries, [_replace(hits[0], token, code(0))])
        try:
            per = len(codec.markets_from(grown).markets) - len(markets)  # markets a clone adds
        except Exception:  # a template the parser refuses: try the next
            continue
        if per < 1:
            continue
        count = -(-(n - len(markets)) // per)
        clones = [_replace(hits[0], token, code(k)) for k in range(count)]
        out = _grown(doc, box, entries, clones)
        got = codec.markets_from(out).markets
        if len(got) >= n and len({g.symbol for g in got}) == len(got):
            return out
    raise ValueError(f"{venue}: no template entry grows its markets answer to {n} markets")


def _grown(doc: Any, box: Any, entries: list[Any], clones: list[Any]) -> bytes:
    """The answer with the clones added to its container of market entries."""
    grown = dict(entries + clones) if isinstance(box, dict) else entries + clones
    return orjson.dumps(_swap(doc, box, grown))


def _swap(node: Any, old: Any, new: Any) -> Any:
    """``node`` with the container ``old`` (by identity) replaced by ``new``."""
    if node is old:
        return new
    if isinstance(node, list):
        return [_swap(x, old, new) for x in node]
    if isinstance(node, dict):
        return {k: _swap(v, old, new) for k, v in node.items()}
    return node


def main() -> int:
    from aggregator.sim.dialects import simulated

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    failed = 0
    for v in simulated():
        body = snapshot_path(v).read_bytes()
        try:
            out = inflate(v, body, n)
        except ValueError as e:
            print(e)
            failed += 1
            continue
        before = len(codec_class(v).markets_from(body).markets)
        print(f"{v:20} {before:5} -> {len(codec_class(v).markets_from(out).markets):5} markets,"
              f" {len(out) / 1024:8.1f} KiB")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
