"""``aggregator subscribe``: print records from NATS, as ``tail`` prints the local socket's.

Filters become subjects (``-e kraken -s BTC/USD`` subscribes ``md.ticker.kraken.BTC-USD``
and ``md.status.kraken``; no filter is ``md.ticker.*.*``, ``md.status.*`` and
``md.bbo.*.*``), so the server, not this process, does the filtering. ``--replay SECONDS``
reads the JetStream stream instead: an ordered consumer delivers what was stored in the last
SECONDS first, then follows the live records.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from .config import kind_of
from .sinks.nats import token

TYPES = ("ticker", "status", "bbo")
CONNECT_WITHIN = 5.0  # seconds before giving up on the first connection


def subjects(
    prefix: str,
    exchanges: Sequence[str] = (),
    symbols: Sequence[str] = (),
    types: Sequence[str] = (),
    kinds: Sequence[str] = (),
) -> list[str]:
    """The subjects matching these filters (empty means any); status records have no symbol.
    A derivative's subjects name its kind after the exchange (any kind: ``*`` there)."""
    exs = [token(e) for e in exchanges] or ["*"]
    syms = [token(s) for s in symbols] or ["*"]
    # the kinds asked for, else those of the symbols (their form says it), else any ("*")
    asked = list(kinds) or list(dict.fromkeys(kind_of(s) for s in symbols)) or ["spot", "*"]
    # each symbol's kinds: its own (if asked for); "*" any of those asked for
    of = {token(s): [k for k in (kind_of(s),) if not kinds or k in kinds] for s in symbols}
    of["*"] = asked
    out: list[str] = []
    for t in types or TYPES:
        if t == "bbo":  # (the exchange is "consolidated")
            out += [f"{prefix}.{t}.{e}.{s}" for e in exs for s in syms]
        elif t == "ticker":
            out += [f"{prefix}.{t}.{_head(e, k)}.{s}" for e in exs for s in syms for k in of[s]]
        else:
            out += [f"{prefix}.{token(t)}.{_head(e, k)}" for e in exs for k in asked]
    return list(dict.fromkeys(out))


def _head(exchange: str, kind: str) -> str:
    """A subject's exchange tokens: "binance" (spot), "binance.perp", "binance.*" (any)."""
    return exchange if kind == "spot" else f"{exchange}.{kind}"


async def subscribe(
    servers: Sequence[str],
    prefix: str,
    exchanges: Sequence[str],
    symbols: Sequence[str],
    types: Sequence[str],
    count: int | None,
    out: TextIO,
    replay: float | None = None,
    stream: str = "MD",
    kinds: Sequence[str] = (),
) -> int:
    """Write matching records to ``out``; 0 after ``count`` records, 1 if NATS fails us."""
    where = ", ".join(servers)
    nc = Client()
    errors: dict[str, float] = {}
    finished = asyncio.Event()  # count reached, or the connection closed for good
    seen = 0

    async def on_error(e: Exception) -> None:
        name = type(e).__name__
        now = time.monotonic()
        if now - errors.get(name, -10.0) >= 10.0:  # one line per kind of error per 10 s
            errors[name] = now
            print(f"aggregator subscribe: {e or name}", file=sys.stderr)

    async def on_closed() -> None:
        finished.set()

    try:
        async with asyncio.timeout(CONNECT_WITHIN):
            await nc.connect(
                servers=list(servers),
                name="aggregator-subscribe",
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                error_cb=on_error,
                closed_cb=on_closed,
            )
    except Exception as e:  # refused, timed out, bad URL
        why = str(e) or f"no server answered within {CONNECT_WITHIN:.0f}s"
        print(f"aggregator subscribe: cannot connect to {where}: {why}", file=sys.stderr)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await nc.close()
        return 1

    async def on_msg(msg: Msg) -> None:
        nonlocal seen
        if finished.is_set():
            return
        data = msg.data
        out.write(data.decode("utf-8", "replace") + ("" if data.endswith(b"\n") else "\n"))
        out.flush()
        seen += 1
        if count is not None and seen >= count:
            finished.set()

    wanted = subjects(prefix, exchanges, symbols, types, kinds)
    try:
        if replay is not None:
            start = datetime.now(UTC) - timedelta(seconds=replay)
            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=start,
                filter_subjects=wanted if len(wanted) > 1 else None,
            )
            js: Any = nc.jetstream()
            await js.subscribe(
                wanted[0], stream=stream, cb=on_msg, ordered_consumer=True, config=config
            )
        else:
            for subject in wanted:
                await nc.subscribe(subject, cb=on_msg)
        await finished.wait()
        if count is not None and seen >= count:
            return 0
        print(f"aggregator subscribe: connection to {where} closed", file=sys.stderr)
        return 1
    except NotFoundError:
        print(
            f"aggregator subscribe: no stream {stream!r} on {where} "
            "(is nats.jetstream on in the daemons? --stream names another)",
            file=sys.stderr,
        )
        return 1
    except Exception as e:  # a refused consumer, a timeout, ...
        print(f"aggregator subscribe: {str(e) or type(e).__name__}", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await nc.close()
