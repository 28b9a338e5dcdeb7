"""Options and reports for the whole suite (pytest reads options only from the top-level
conftest, and only this one is loaded in pytest-xdist's controlling process)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from .chaos import figures


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


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one worker more than the CPUs this process may use, and at least 3.

    Most tests wait on sockets, timers and child processes rather than compute, so even a
    2-CPU machine keeps 3 workers busy. PYTEST_XDIST_AUTO_NUM_WORKERS still decides if set.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return max(3, len(os.sched_getaffinity(0)) + 1)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker: hand this worker's chaos figures to the controller."""
    out = getattr(session.config, "workeroutput", None)
    chaos = figures.recorded()
    if out is not None and chaos is not None:
        out["chaos_figures"] = chaos.as_plain()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """In pytest-xdist's controller: a worker finished; keep its chaos figures."""
    plain = getattr(node, "workeroutput", {}).get("chaos_figures")
    if plain:
        figures.session_chaos(node.config.getoption("--soak")).add_plain(plain)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workeroutput"):
        return
    chaos = figures.recorded()
    if chaos is None or not chaos.figures:
        return
    table = figures.render(chaos.figures)
    terminalreporter.write_sep("-", "chaos figures")
    terminalreporter.write(table)
    path = config.getoption("--chaos-report", None)
    if path:
        workers = getattr(config.option, "numprocesses", None) or 0
        Path(path).write_text(figures.header(chaos, workers) + table)
        Path(path + ".json").write_text(json.dumps(chaos.as_plain(), indent=1) + "\n")
