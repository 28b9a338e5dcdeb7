"""One local HTTP server playing the REST APIs of many venues from recorded responses.

Venue V lives under ``/V/``: ``/V/markets`` answers with the venue's markets snapshot, any
other path under ``/V/`` with the venue's recorded ticker response (tests/fixtures/rest, or
rest-doc where the venue's response was written from its documentation). Per venue, the
server can answer 429 with Retry-After, a 5xx, or an HTML page instead, and it records the
time of every request.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from aggregator.adapters.base import SHAPE_ERRORS
from aggregator.adapters.registry import codec_class
from aggregator.errors import ParseError, VenueError
from aggregator.symbols import snapshot_path

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Played:
    """One venue as played by the server."""

    venue: str
    symbol: str  # the market the recorded response is about
    markets: bytes
    ticker: bytes
    status: int | None = None  # answer this status instead
    retry_after: float | None = None
    html: bool = False
    requests: list[float] = field(default_factory=list)  # monotonic times of ticker requests


def recorded(venue: str) -> Played:
    """The venue's first recorded ticker response that its codec turns into a record."""
    cls = codec_class(venue)
    markets = snapshot_path(venue).read_bytes()
    table = cls.markets_from(markets)
    for kind in ("rest", "rest-doc"):
        path = FIXTURES / kind / f"{venue}.json"
        if not path.exists():
            continue
        for e in json.loads(path.read_text()):
            if not e["method"].startswith("fetchTicker") or not e.get("input"):
                continue
            symbol = e["input"][0][0] if isinstance(e["input"][0], list) else e["input"][0]
            if symbol is None or ":" in symbol or symbol not in table.by_symbol:
                continue
            body = json.dumps(e["httpResponse"]).encode()
            try:
                records = cls(table).parse_rest(body, 1, table.by_symbol[symbol])
            except (ParseError, VenueError, *SHAPE_ERRORS):
                continue
            if any(r.symbol == symbol for r in records):
                return Played(venue, symbol, markets, body)
    raise LookupError(f"no usable recorded ticker response for {venue}")


class RestReplay:
    def __init__(self, venues: list[str]) -> None:
        self.venues = {v: recorded(v) for v in venues}
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{venue}/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def endpoints(self, venue: str) -> dict[str, str]:
        base = f"http://127.0.0.1:{self.port}/{venue}"
        return {"rest_url": base, "markets_url": f"{base}/markets"}

    async def _handle(self, request: web.Request) -> web.Response:
        played = self.venues.get(request.match_info["venue"])
        if played is None:
            return web.Response(status=404, text="no such venue")
        if request.match_info["tail"] == "markets":
            return web.Response(body=played.markets, content_type="application/json")
        played.requests.append(time.monotonic())
        if played.status is not None:
            headers = {}
            if played.retry_after is not None:
                headers["Retry-After"] = f"{played.retry_after:g}"
            return web.Response(status=played.status, text="<html>busy</html>", headers=headers)
        if played.html:
            return web.Response(
                text="<html><body>maintenance</body></html>", content_type="text/html"
            )
        return web.Response(body=played.ticker, content_type="application/json")
