"""The latest tickers as a pandas DataFrame, and an hour of files as another.

pip install pandas
python examples/pandas_snapshot.py
"""

from __future__ import annotations

import glob

import pandas as pd

from aggregator.client import latest
from aggregator.records import TICKER_FIELDS, Ticker

# Now: the daemon's latest value of every ticker (its snapshot), one row each.
records = latest("/run/aggregator/aggregator.sock", types=["ticker"])
rows = [{f: getattr(r, f) for f in TICKER_FIELDS} for r in records if isinstance(r, Ticker)]
now = pd.DataFrame(rows).set_index(["exchange", "symbol"]).sort_index()
now["spread_bps"] = (now["ask"] - now["bid"]) / now["bid"] * 1e4
print(now[["bid", "ask", "spread_bps", "last", "volume"]])

# Earlier: one venue's files (JSON Lines, gzip once closed), timestamps in ns since the epoch.
files = sorted(glob.glob("/var/lib/aggregator/data/kraken/kraken-*.jsonl*"))[-2:]
if files:
    past = pd.concat(pd.read_json(f, lines=True) for f in files)
    past["time"] = pd.to_datetime(past["ts_recv"], unit="ns", utc=True)
    mid = (past["bid"] + past["ask"]) / 2
    print(mid.groupby([past["symbol"], past["time"].dt.floor("1min")]).last().unstack(0))
