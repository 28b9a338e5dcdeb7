"""A venue's REST requests: one aiohttp session per adapter, bounded bodies, the venue's
rate-limit answers (418, 429 and their Retry-After) told apart from other refusals.

Markets lists, ticker polls and the token some venues want before a WebSocket session all
go through ``Http.fetch``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from ..errors import ParseError, RateLimited, VenueError
from .base import REST_MAX_BODY

RETRY_AFTER_MAX = 3600.0  # seconds: a longer wait asked by a venue is taken as this


class Http:
    """The REST client of one adapter; ``fetch`` works while ``open()`` is entered."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    @asynccontextmanager
    async def open(self) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
            self._session = session
            try:
                yield
            finally:
                self._session = None

    async def fetch(self, url: str, post: Any = None, method: str | None = None) -> bytes:
        """The body of a 200 answer (GET, or POST of ``post``); RateLimited on 418 and 429,
        VenueError on any other status, ParseError past REST_MAX_BODY."""
        assert self._session is not None
        method = method or ("GET" if post is None else "POST")
        async with self._session.request(method, url, json=post) as resp:
            if resp.status in (418, 429):
                raise RateLimited(f"HTTP {resp.status}", retry_after(resp.headers))
            body = await read_body(resp)
            if resp.status != 200:
                raise VenueError(f"HTTP {resp.status}: {_snippet(body)}")
            return body


async def read_body(resp: aiohttp.ClientResponse, limit: int = REST_MAX_BODY) -> bytes:
    """A response's whole body, however many reads it arrives in; a ParseError past
    ``limit`` bytes (decoded), without reading further."""
    if resp.content_length is not None and resp.content_length > limit:
        raise ParseError(f"response larger than {limit} bytes ({resp.content_length})")
    parts = []
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise ParseError(f"response larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def retry_after(headers: Any) -> float | None:
    """The seconds a Retry-After header asks for (capped), or None if absent or a date."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), RETRY_AFTER_MAX))
    except ValueError:
        return None


def _snippet(body: bytes, n: int = 120) -> str:
    text = body[:n].decode("utf-8", "replace").replace("\n", " ").strip()
    return text + ("..." if len(body) > n else "")
