"""Sharding: several daemon instances share one config, each running a disjoint part of it.

A venue belongs to shard ``i`` of ``n`` when ``crc32(venue) % n == i``. CRC-32 of the
venue id is the same in every process on every host and in every Python version (the
built-in ``hash()`` of a string is salted per process), so instances started anywhere with
``--shard 0/3``, ``--shard 1/3`` and ``--shard 2/3`` split the venues without talking to
each other, and a restart keeps every venue where it was. Changing ``n`` reshuffles.
An explicit list (``--exchanges a,b``) takes exactly those venues of the config instead.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence

from .config import Config
from .errors import ConfigError


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` to (i, n) with 0 <= i < n; ValueError naming what was expected."""
    head, sep, tail = text.strip().partition("/")
    if not sep or not (head + tail).isascii() or not head.isdigit() or not tail.isdigit():
        raise ValueError(f"expected 'i/n' like '0/3', got {text!r}")
    i, n = int(head), int(tail)
    if n < 1 or i >= n:
        raise ValueError(f"expected 'i/n' with 0 <= i < n, got {text!r}")
    return i, n


def shard_of(venue: str, n: int) -> int:
    """The shard (0..n-1) a venue id belongs to, the same on every host."""
    return zlib.crc32(venue.encode()) % n


def select(config: Config, shard: str = "", exchanges: Sequence[str] = ()) -> Config:
    """The config with only this instance's venues: an explicit list, else a shard.

    ``exchanges`` are venue ids or config keys (old ids too) that must be in the config;
    ``shard`` overrides ``daemon.shard``. Neither given: the config unchanged.
    """
    if exchanges:
        by_name = {e.venue: e for e in config.exchanges} | {e.key: e for e in config.exchanges}
        unknown = [x for x in exchanges if x not in by_name]
        if unknown:
            configured = ", ".join(e.venue for e in config.exchanges) or "none"
            raise ConfigError(
                f"--exchanges: {', '.join(unknown)} not in {config.source or 'the config'} "
                f"(configured: {configured})"
            )
        wanted = {by_name[x].venue for x in exchanges}
        chosen = tuple(e for e in config.exchanges if e.venue in wanted)
        daemon = dataclasses.replace(config.daemon, shard="")
        return dataclasses.replace(config, daemon=daemon, exchanges=chosen)
    shard = shard or config.daemon.shard
    if not shard:
        return config
    try:
        i, n = parse_shard(shard)
    except ValueError as e:
        raise ConfigError(f"--shard: {e}") from None
    chosen = tuple(e for e in config.exchanges if shard_of(e.venue, n) == i)
    daemon = dataclasses.replace(config.daemon, shard=f"{i}/{n}")
    return dataclasses.replace(config, daemon=daemon, exchanges=chosen)
