"""The unit file passes `systemd-analyze verify` and asks for what the daemon provides."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parent.parent / "systemd" / "aggregator.service"


def test_unit_verifies(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing in CI (.ci/run installs it)")
        pytest.skip("systemd-analyze is not installed on this machine")
    exe = Path(sys.executable).parent / "aggregator"
    assert exe.exists(), "the console script is installed next to the interpreter"
    unit = tmp_path / "aggregator.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/aggregator", str(exe)))
    r = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "aggregator.service" not in r.stderr, r.stderr  # no warning about our unit


def test_unit_settings() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "DynamicUser=yes",
        "RuntimeDirectory=aggregator",
        "StateDirectory=aggregator",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ):
        assert line in text
