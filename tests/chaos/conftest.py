"""The chaos suite: faults injected into venues, clients and the machine, with figures.

Every scenario records what it did and what it measured through the `chaos` fixture; at the
end of the session the figures are printed, and written as a Markdown table with
`--chaos-report PATH` (docs/chaos.md holds the committed one).

`--soak MINUTES` runs every scenario for MINUTES instead of its few CI seconds (by hand:
`pytest tests/chaos --soak 30 --timeout 0`).
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

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


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB; read it before the process exits."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


_CHAOS: Chaos | None = None


@pytest.fixture(scope="session")
def chaos(request: pytest.FixtureRequest) -> Chaos:
    global _CHAOS
    if _CHAOS is None:
        _CHAOS = Chaos(request.config.getoption("--soak", 0.0))
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


def header(chaos: Chaos) -> str:
    """What the table is, when and where it was measured."""
    when = time.strftime("%Y-%m-%d", time.gmtime())
    mode = f"--soak {chaos.soak_minutes:g}" if chaos.soak else "CI durations (a few seconds each)"
    return (
        "# Chaos suite figures\n\n"
        f"`pytest tests/chaos --chaos-report docs/chaos.md`, {mode}; {when}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}. Every scenario runs the real "
        "daemon (or the real sink) against simulated venues on 127.0.0.1; a dash is a figure "
        "that does not apply. The per-scenario assertions are in tests/chaos/.\n\n"
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _CHAOS is None or not _CHAOS.figures:
        return
    table = render(_CHAOS.figures)
    terminalreporter.write_sep("-", "chaos figures")
    terminalreporter.write(table)
    path = config.getoption("--chaos-report", None)
    if path:
        Path(path).write_text(header(_CHAOS) + table)
        Path(path + ".json").write_text(
            json.dumps([asdict(f) for f in _CHAOS.figures], indent=1) + "\n"
        )


__all__ = ["Chaos", "Figures", "peak_rss_mb"]
