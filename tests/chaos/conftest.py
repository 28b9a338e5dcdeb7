"""The chaos suite: faults injected into venues, clients and the machine, with figures.

Every scenario records what it did and what it measured through the `chaos` fixture; at the
end of the session the figures are printed, and written as a Markdown table with
`--chaos-report PATH` (docs/chaos.md holds the committed one; tests/conftest.py writes it,
gathering the figures of every pytest-xdist worker).

`--soak MINUTES` runs every scenario for MINUTES instead of its few CI seconds (by hand:
`pytest tests/chaos -n 0 --soak 30 --timeout 0`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .figures import Chaos, Figures, session_chaos


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB; read it before the process exits."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


@pytest.fixture(scope="session")
def chaos(request: pytest.FixtureRequest) -> Chaos:
    return session_chaos(request.config.getoption("--soak", 0.0))


__all__ = ["Chaos", "Figures", "peak_rss_mb"]
