"""Hypothesis strategies shared by the fuzz scenarios: mutations of recorded payloads.

Two kinds of mutation, applied to a seed (a recorded frame or body):
- raw: bytes flipped, the text truncated, junk bytes inserted, a stretch cut out;
- structural (seeds that are JSON): 1 to 3 edits at random places of the decoded document,
  each dropping a key, replacing a value by a hostile one (null, "NaN", "", "abc", a huge
  or negative number, a list, a table, a boolean), wrapping a value in a list, unwrapping a
  list, emptying a container or doubling a list.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Values a venue should never send where a number or a name is expected.
HOSTILE: list[Any] = [
    None,
    "",
    "NaN",
    "nan",
    "Infinity",
    "-inf",
    "abc",
    "1e999",
    "9" * 400,
    "-1",
    "0",
    0,
    -1,
    -0.0,
    1e308,
    -1e308,
    1.7976931348623157e308,
    5e-324,
    10**30,
    -(10**30),
    2**63,
    2**64 + 1,
    True,
    False,
    [],
    {},
    [1, 2],
    ["a", None],
    {"a": 1},
    "2026-13-45T99:99:99.123Z",
    "\u0000\ud7ff\uffff",
]
OPS = ("drop", "hostile", "text", "number", "wrap", "unwrap", "empty", "double")
MAX_NODES = 4000  # nodes of a document considered as edit targets


def examples(base: int, soak: bool) -> int:
    """Examples per fuzz target: `base` in CI, more with --soak or FUZZ_EXAMPLES=N."""
    env = os.environ.get("FUZZ_EXAMPLES")
    if env:
        return int(env)
    return base * 50 if soak else base


def fuzz_settings(max_examples: int) -> settings:
    """Reproducible in CI: derandomized, no example database, no per-example deadline."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _paths(doc: Any) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    while stack and len(out) < MAX_NODES:
        path, node = stack.pop()
        out.append(path)
        if isinstance(node, dict):
            stack.extend(((*path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in enumerate(node))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


@st.composite
def _edit(draw: st.DrawFn, doc: Any) -> Any:
    path = draw(st.sampled_from(_paths(doc)))
    op = draw(st.sampled_from(OPS))
    node = _get(doc, path)
    if op == "drop":
        if not path:
            return draw(st.sampled_from(HOSTILE))
        parent = _get(doc, path[:-1])
        del parent[path[-1]]
        return doc
    if op == "hostile":
        new = copy.deepcopy(draw(st.sampled_from(HOSTILE)))
    elif op == "text":
        new = draw(st.text(max_size=20))
    elif op == "number":
        new = draw(
            st.one_of(
                st.integers(-(2**70), 2**70),
                st.floats(allow_nan=False, allow_infinity=False),
            )
        )
    elif op == "wrap":
        new = [node]
    elif op == "unwrap":
        if isinstance(node, list):
            new = node[0] if node else None
        elif isinstance(node, dict):
            new = next(iter(node.values()), None)
        else:
            new = node
    elif op == "empty":
        new = type(node)() if isinstance(node, list | dict | str) else None
    else:  # double
        new = node * 2 if isinstance(node, list | str) else [node, node]
    if not path:
        return new
    _get(doc, path[:-1])[path[-1]] = new
    return doc


@st.composite
def json_mutation(draw: st.DrawFn, doc: Any) -> str:
    """The document with 1 to 3 structural edits, as JSON text."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        doc = draw(_edit(doc))
    return json.dumps(doc, ensure_ascii=draw(st.booleans()))


@st.composite
def byte_mutation(draw: st.DrawFn, raw: bytes) -> bytes:
    """The bytes with some flipped, a cut, junk inserted or a stretch removed."""
    if not raw:
        return draw(st.binary(max_size=64))
    data = bytearray(raw)
    op = draw(st.sampled_from(("flip", "truncate", "insert", "remove")))
    pos = draw(st.integers(0, len(data) - 1))
    if op == "flip":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif op == "truncate":
        del data[pos:]
    elif op == "insert":
        data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
    else:
        del data[pos : pos + draw(st.integers(1, 64))]
    return bytes(data)


def _decoded(seed: str | bytes) -> tuple[Any, bool] | None:
    """A seed's JSON document and whether it was gzip'd, or None if it is not JSON."""
    raw = seed
    zipped = isinstance(raw, bytes) and raw[:2] == b"\x1f\x8b"
    if zipped:
        raw = gzip.decompress(raw)  # type: ignore[arg-type]
    try:
        return json.loads(raw), zipped
    except ValueError:
        return None


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[str | bytes]) -> str | bytes:
    """A seed, as recorded or mutated; text stays text where it is still valid UTF-8.

    A gzip'd seed is mutated inside (and compressed again) as well as on the wire.
    """
    seed = draw(st.sampled_from(seeds))
    how = draw(st.sampled_from(("as is", "raw", "json", "json", "json")))
    decoded = _decoded(seed)
    if how == "as is":
        return seed
    if how == "json" and decoded is not None:
        doc, zipped = decoded
        text = draw(json_mutation(doc))
        if zipped:
            return gzip.compress(text.encode(), mtime=0)
        return text if isinstance(seed, str) else text.encode()
    raw = seed.encode() if isinstance(seed, str) else seed
    out = draw(byte_mutation(raw))
    if isinstance(seed, str):
        try:
            return out.decode()
        except UnicodeDecodeError:
            return out  # text that is no longer UTF-8: a binary frame
    return out
