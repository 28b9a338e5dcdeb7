"""Market-data aggregator: venue tickers normalised into one record, to files and sockets."""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .reader import read as read


def __getattr__(name: str) -> object:
    # aggregator.read: imported when first used (it needs pyarrow; the daemon does not)
    if name == "read":
        from .reader import read

        return read
    raise AttributeError(f"module 'aggregator' has no attribute {name!r}")
