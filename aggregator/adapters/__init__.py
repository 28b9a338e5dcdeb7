"""Venue adapters: a codec per venue, run by the connection loops in ``base``."""
