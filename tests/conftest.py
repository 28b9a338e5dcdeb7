"""Options for the whole suite (pytest reads them only from the top-level conftest)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos")
    group.addoption(
        "--soak",
        type=float,
        default=0.0,
        metavar="MINUTES",
        help="run every chaos scenario for MINUTES (tests/chaos)",
    )
    group.addoption(
        "--chaos-report",
        default=None,
        metavar="PATH",
        help="write the chaos figures as a Markdown table (and PATH.json)",
    )
