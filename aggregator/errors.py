"""The error tree of the aggregator.

Every error a user can cause or a venue can provoke is one of these, so callers
catch what they can handle and nothing else.
"""

from __future__ import annotations


class AggregatorError(Exception):
    """Base class of every error raised on purpose by this package."""


class ConfigError(AggregatorError):
    """The configuration is invalid; the message names the key and what was expected."""

    exit_code = 2


class UnknownExchange(ConfigError):
    """An exchange id that is neither a venue, an old id of one, nor a closed venue."""


class ClosedExchange(ConfigError):
    """An exchange id from the 2019 list whose venue no longer has a public API."""


class VenueError(AggregatorError):
    """The venue said something went wrong (an error message, a rejected subscription)."""


class VenueNotice(VenueError):
    """The venue reported a problem that does not end the session (a rejected symbol, say)."""


class ParseError(VenueError):
    """A venue payload could not be understood: not JSON, or not the expected shape."""


class SequenceGap(VenueError):
    """Messages were lost between two numbers of a venue's sequence (or a book built from them
    went out of step): what is held is no longer the venue's state, so the session is renewed."""


class RateLimited(VenueError):
    """The venue asked us to slow down (HTTP 429/418); ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
