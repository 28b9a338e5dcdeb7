"""Market-data aggregator: venue tickers normalised into one record, to files and sockets."""

from importlib import metadata
from typing import TYPE_CHECKING

# The one place the version is written is pyproject.toml; a source tree that was never
# installed has none.
try:
    __version__ = metadata.version("aggregator")
except metadata.PackageNotFoundError:
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from .reader import read as read


def __getattr__(name: str) -> object:
    # aggregator.read: imported when first used (it needs pyarrow; the daemon does not)
    if name == "read":
        from .reader import read

        return read
    raise AttributeError(f"module 'aggregator' has no attribute {name!r}")
