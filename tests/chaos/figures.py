"""The chaos suite's figures: one line per scenario, printed and written as a Markdown table.

Scenarios record their figures in this process's `Chaos`. Under pytest-xdist each worker
holds its own; the top-level conftest hands them to the controlling process, which prints
and writes the one table.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Any

COLUMNS = [
    ("scenario", "Scenario"),
    ("faults", "Faults injected"),
    ("accepted", "Accepted"),
    ("written", "Written"),
    ("dropped", "Dropped"),
    ("recovery_s", "Recovery (s)"),
    ("rate_ratio", "Others' rate vs no fault"),
    ("peak_rss_mb", "Peak RSS (MB)"),
    ("notes", "Notes"),
]


@dataclass
class Figures:
    """One scenario's line in the report. Leave a figure None when it does not apply."""

    scenario: str
    faults: str = ""
    accepted: int | None = None  # records the hub accepted for the file sink
    written: int | None = None  # records on disk, counted
    dropped: int | None = None  # records the daemon said it dropped
    recovery_s: float | None = None  # fault cleared -> records flowing again
    rate_ratio: float | None = None  # healthy venues'/clients' rate vs the no-fault run
    peak_rss_mb: float | None = None  # the daemon's VmHWM
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Chaos:
    def __init__(self, soak_minutes: float) -> None:
        self.soak_minutes = soak_minutes
        self.figures: list[Figures] = []

    @property
    def soak(self) -> bool:
        return self.soak_minutes > 0

    def duration(self, seconds: float) -> float:
        """A scenario's running time: `seconds` in CI, the soak period with --soak."""
        return self.soak_minutes * 60 if self.soak else seconds

    def record(self, scenario: str, **figures: Any) -> Figures:
        f = Figures(scenario, **figures)
        self.figures.append(f)
        return f

    def as_plain(self) -> list[dict[str, Any]]:
        """The figures as plain data (what passes between processes and goes into JSON)."""
        return [asdict(f) for f in self.figures]

    def add_plain(self, figures: list[dict[str, Any]]) -> None:
        self.figures += [Figures(**f) for f in figures]


_CHAOS: Chaos | None = None


def session_chaos(soak_minutes: float) -> Chaos:
    """This process's one Chaos, made on first use."""
    global _CHAOS
    if _CHAOS is None:
        _CHAOS = Chaos(soak_minutes)
    return _CHAOS


def recorded() -> Chaos | None:
    """This process's Chaos if any scenario ran here, else None."""
    return _CHAOS


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("|", "\\|")


def render(figures: list[Figures]) -> str:
    head = "| " + " | ".join(title for _, title in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    rows = [
        "| " + " | ".join(_cell(getattr(f, key)) for key, _ in COLUMNS) + " |"
        for f in sorted(figures, key=lambda f: f.scenario)
    ]
    return "\n".join([head, rule, *rows]) + "\n"


def header(chaos: Chaos, workers: int) -> str:
    """What the table is, when and where it was measured (and beside how many other tests)."""
    when = time.strftime("%Y-%m-%d", time.gmtime())
    mode = f"--soak {chaos.soak_minutes:g}" if chaos.soak else "CI durations (a few seconds each)"
    alone = "one test at a time" if workers <= 1 else f"{workers} tests at a time (pytest-xdist)"
    return (
        "# Chaos suite figures\n\n"
        f"`pytest tests/chaos -n 0 --chaos-report docs/chaos.md`, {mode}, {alone}; {when}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}. Every scenario runs the real "
        "daemon (or the real sink) against simulated venues on 127.0.0.1; a dash is a figure "
        "that does not apply. The per-scenario assertions are in tests/chaos/.\n\n"
    )
