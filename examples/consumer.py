"""Print the daemon's tickers as they come, and say where records may be missing.

    python examples/consumer.py -e kraken -s BTC/USD
    python examples/consumer.py --socket ./run/aggregator.sock -n 20

It reconnects by itself when the daemon restarts; a gap (a reconnection, a restart, a jump
in an exchange's numbers, updates skipped because this reader fell behind) goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aggregator.client import Gap, Subscription
from aggregator.records import Status, Ticker


async def consume(args: argparse.Namespace) -> int:
    tickers = 0
    async with Subscription(
        args.socket, tcp=args.tcp, exchanges=args.exchange, symbols=args.symbol
    ) as sub:
        async for event in sub:
            if isinstance(event, Ticker):
                print(f"{event.exchange:<10} {event.symbol:<12} {event.bid} {event.ask}")
                tickers += 1
                if args.count is not None and tickers >= args.count:
                    break
            elif isinstance(event, Status):
                print(f"{event.exchange}: {event.state} {event.detail or ''}", file=sys.stderr)
            elif isinstance(event, Gap):
                print(f"gap ({event.reason}): {event.detail}", file=sys.stderr)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--socket", default="/run/aggregator/aggregator.sock", help="Unix socket")
    p.add_argument("--tcp", metavar="HOST:PORT", help="connect there instead")
    p.add_argument("-e", "--exchange", action="append", default=[], help="only this venue")
    p.add_argument("-s", "--symbol", action="append", default=[], help="only this symbol")
    p.add_argument("-n", "--count", type=int, help="stop after this many tickers")
    return asyncio.run(consume(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
