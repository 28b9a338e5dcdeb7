"""``tail --table``'s rows: one precision per symbol, the rows that do not fit counted,
paged and filtered by keys."""

from __future__ import annotations

import re

from rich.console import Console

from aggregator.live import CHROME, Board, Pager


def text(board: Board, height: int = 0, pager: Pager | None = None) -> str:
    console = Console(width=140, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    with console.file:
        console.print(board.render(10.0, now_ns=10**18, height=height, pager=pager))
    return console.export_text()


def ticker(exchange: str, symbol: str, bid: float, ask: float, last: float | None = None) -> dict:
    return {"type": "ticker", "exchange": exchange, "symbol": symbol, "bid": bid, "ask": ask,
            "last": last, "ts_recv": 10**18}  # fmt: skip


def test_a_symbols_prices_have_one_precision_in_every_row() -> None:
    board = Board()
    board.update(ticker("kraken", "BTC/USD", 63000.5, 63001.0, 63000.0))
    board.update(ticker("coinbase", "BTC/USD", 63000.25, 63000.75))
    board.update(ticker("binance", "DOGE/USDT", 0.14611, 0.1462))
    out = text(board)
    assert re.search(r"kraken\s+│ BTC/USD\s+│\s+63000\.50 │\s+63001\.00 │\s+63000\.00", out), out
    assert re.search(r"coinbase\s+│ BTC/USD\s+│\s+63000\.25 │\s+63000\.75 │\s+- ", out), out
    assert re.search(r"0\.14611 │\s+0\.14620 │", out), out
    # the right edges line up: a column's numbers end at the same place
    rows = [line for line in out.splitlines() if "BTC/USD" in line]
    assert len({line.index(" │", line.index("63000")) for line in rows}) == 1


def test_rows_that_do_not_fit_are_counted_paged_and_filtered() -> None:
    board = Board()
    for i in range(30):
        board.update(ticker("kraken" if i % 2 else "bitstamp", f"C{i:02d}/USD", 1.0 + i, 2.0 + i))
    pager = Pager()
    out = text(board, height=CHROME + 10, pager=pager)
    assert "rows 1-10 of 30, 20 hidden: n/p to page, / to filter" in out
    assert "C00/USD" in out and "C01/USD" not in out  # bitstamp's rows first
    pager.key(b"n")
    out = text(board, height=CHROME + 10, pager=pager)
    assert "rows 11-20 of 30" in out
    for _ in range(5):
        pager.key(b"\x1b[6~")  # PgDn past the end stays on the last page
    assert "rows 21-30 of 30" in text(board, height=CHROME + 10, pager=pager)
    pager.key(b"p")
    assert "rows 11-20 of 30" in text(board, height=CHROME + 10, pager=pager)
    for key in (b"/", b"K", b"r", b"x", b"\x7f", b"\r"):  # "/kr", a typo erased, Enter
        pager.key(key)
    out = text(board, height=CHROME + 10, pager=pager)
    assert pager.pattern == "kr" and not pager.typing
    assert "rows 1-10 of 15 matching, 20 hidden" in out and "filter: kr" in out
    assert "bitstamp" not in out
    pager.key(b"\x1b")  # Esc clears the filter
    assert pager.pattern == "" and "rows 1-10 of 30" in text(board, CHROME + 10, pager)
    assert "hidden" not in text(board, height=100, pager=pager)  # all fit: nothing said
