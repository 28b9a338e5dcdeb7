"""A client of the daemon's socket, for programs: records, the snapshot, gaps, reconnection.

.. code-block:: python

    from aggregator.client import Gap, Subscription
    from aggregator.records import Ticker

    async with Subscription("/run/aggregator/aggregator.sock", exchanges=["kraken"]) as sub:
        async for event in sub:
            if isinstance(event, Ticker):
                print(event.symbol, event.bid, event.ask)
            elif isinstance(event, Gap):
                print("records may be missing:", event.reason, event.detail)

Records are the daemon's own types (:class:`~aggregator.records.Ticker`,
:class:`~aggregator.records.Status`, and :class:`~aggregator.consolidated.BBO` for the
consolidated view); a :class:`Gap` marks where some may be missing (a
reconnection, a restart of the daemon, a jump in an exchange's ``seq``, updates skipped for
a reader that fell behind). :func:`stream` and :func:`latest` serve scripts without an event
loop. The protocol underneath is described in docs/protocol.md.
"""

from .gaps import Gap, GapReason, GapTracker
from .subscription import PROTOCOLS, Event, Subscription, Unavailable, latest, stream
from .tail import tail
from .wire import (
    RECORD_PREFIXES,
    Refused,
    batches,
    connect,
    decode,
    message,
    protocol_message,
    refusal,
    subscribe_line,
)

__all__ = [
    "PROTOCOLS",
    "RECORD_PREFIXES",
    "Event",
    "Gap",
    "GapReason",
    "GapTracker",
    "Refused",
    "Subscription",
    "Unavailable",
    "batches",
    "connect",
    "decode",
    "latest",
    "message",
    "protocol_message",
    "refusal",
    "stream",
    "subscribe_line",
    "tail",
]
