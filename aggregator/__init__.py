"""Market-data aggregator: venue tickers normalised into one record, to files and sockets."""

__version__ = "0.1.0"
