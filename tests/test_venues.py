"""Every venue in the registry: its codec loads, its markets snapshot parses, its REST
requests are well formed, and bad payloads never raise anything but the codec's errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aggregator import venues
from aggregator.adapters.base import Codec
from aggregator.adapters.registry import ADAPTERS, DERIVATIVES, codec_class
from aggregator.errors import ParseError, VenueError
from aggregator.symbols import is_unified, snapshot_path

FIXTURES = Path(__file__).parent / "fixtures"
BAD = [
    b"",
    b"<html><body>502 Bad Gateway</body></html>",
    b'{"truncated": ',
    b"[]",
    b"{}",
    b"null",
    b"[null]",
    b'{"data": null}',
    b'{"result": "NaN"}',
    b'"text"',
]


def test_registry_covers_every_venue() -> None:
    assert set(ADAPTERS) == set(venues.VENUES)
    assert len(ADAPTERS) == sum(status == "trading" for _, status, _ in venues.rows())


@pytest.fixture(params=sorted(ADAPTERS))
def venue(request: pytest.FixtureRequest) -> str:
    return request.param


def make(venue: str) -> Codec:
    cls = codec_class(venue)
    assert cls.venue == venue
    return cls(cls.markets_from(snapshot_path(venue).read_bytes()))


# Every codec: each venue's spot one, and each derivatives one as "venue-kind" (its shipped
# markets list's name).
FEEDS = sorted(ADAPTERS) + sorted(f"{v}-{k}" for v, k in DERIVATIVES)


@pytest.fixture(params=FEEDS)
def feed(request: pytest.FixtureRequest) -> str:
    return request.param


def make_feed(feed: str) -> Codec:
    venue, _, kind = feed.partition("-")
    cls = codec_class(venue, kind or "spot")
    assert cls.venue == venue
    return cls(cls.markets_from(snapshot_path(feed).read_bytes()))


def test_markets_snapshot_parses(feed: str) -> None:
    c = make_feed(feed)
    assert len(c.table) >= 1
    for m in c.table.markets:
        assert is_unified(m.symbol), m
        assert m.native
        assert c.lookup(m.native) is m


def test_rest_requests_use_the_configured_base(feed: str) -> None:
    c = make_feed(feed)
    markets = list(c.table.markets)[:3]
    reqs = c.rest_requests("http://127.0.0.1:1/x", markets)
    assert reqs
    for r in reqs:
        assert r.url.startswith("http://127.0.0.1:1/x"), r.url
        assert r.method in ("GET", "POST")


@pytest.mark.parametrize("payload", BAD)
def test_bad_payloads_raise_only_codec_errors(feed: str, payload: bytes) -> None:
    c = make_feed(feed)
    market = next(iter(c.table.markets))
    try:
        records = c.parse_rest(payload, 1, market)
    except (ParseError, VenueError):
        return
    assert records == []


def test_every_venue_has_a_ticker_payload_to_test(venue: str) -> None:
    """A recorded response (rest/) or, where none was recorded, one from the docs (rest-doc/)."""
    files = [FIXTURES / kind / f"{venue}.json" for kind in ("rest", "rest-doc")]
    found = [f for f in files if f.exists()]
    assert found, f"no ticker payload for {venue}"
    entries = [e for f in found for e in json.loads(f.read_text())]
    assert any(e["method"].startswith("fetchTicker") for e in entries)


def test_readme_lists_every_venue_by_mode() -> None:
    from aggregator.adapters.registry import modes

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    streaming = readme.split("Streaming by default, REST polling as fallback")[1].split("\n\n")[0]
    rest_only = readme.split("REST polling only (")[1].split("\n\n")[0]
    for v in ADAPTERS:
        listed = streaming if "ws" in modes(v) else rest_only
        assert f" {v}," in listed.replace("\n", " ") or f" {v}." in listed.replace("\n", " "), v
