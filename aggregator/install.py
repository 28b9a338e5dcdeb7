"""`aggregator install`: the files that run the daemon as a hardened systemd service.

The unit, a sysusers.d file (the system user and group ``aggregator``), a tmpfiles.d file
(the config and data directories, their owners and modes), the sample config (only where
none exists: the operator's is never replaced) and the README that the unit's
``Documentation=`` names. Written under ``--root`` (``/`` by default; a staging directory
for tests and packagers) or printed. The unit's ``ExecStart`` is ``PREFIX/bin/aggregator``,
the prefix being the environment this command runs from unless ``--prefix`` says otherwise.
Applying them (creating the user, the directories, starting the unit) is left to systemd's
own tools, in the commands the README gives and this command prints.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import TextIO

from .errors import AggregatorError

TEMPLATE_PREFIX = "/opt/aggregator"  # where the packaged unit's ExecStart points
HIDDEN = ("/home/", "/root/", "/run/user/")  # what the unit's ProtectHome=yes hides


@dataclass(frozen=True, slots=True)
class Installed:
    """One file the install writes: where it goes (under the root), its mode, its text."""

    path: str
    mode: int
    text: str
    replace: bool = True  # False: an existing file is the operator's, left as it is


def _packaged(name: str) -> str:
    return resources.files("aggregator").joinpath("data", name).read_text(encoding="utf-8")


def _readme() -> str:
    """The README, from the package's metadata (its long description)."""
    try:
        text = metadata.metadata("aggregator").get_payload()  # type: ignore[attr-defined]
    except metadata.PackageNotFoundError:
        text = None
    if not isinstance(text, str) or not text.strip():
        raise AggregatorError("the package's metadata has no README (reinstall the package)")
    return text


def files(prefix: str) -> list[Installed]:
    """Every file of the install, the unit's ExecStart pointing into ``prefix``."""
    if not prefix.startswith("/") or any(c.isspace() or c in "\"'\\%$" for c in prefix):
        raise AggregatorError(
            f"--prefix: expected an absolute path without spaces or quotes, got {prefix!r}"
        )
    if prefix.startswith(HIDDEN):
        raise AggregatorError(
            f"--prefix: {prefix} is hidden from the service (ProtectHome=yes): install the "
            "package in its own environment, e.g. python3 -m venv /opt/aggregator"
        )
    unit = _packaged("systemd/aggregator.service")
    exec_start = f"ExecStart={TEMPLATE_PREFIX}/bin/aggregator "
    unit = unit.replace(exec_start, f"ExecStart={prefix.rstrip('/')}/bin/aggregator ")
    return [
        Installed("etc/systemd/system/aggregator.service", 0o644, unit),
        Installed(
            "etc/sysusers.d/aggregator.conf", 0o644, _packaged("systemd/aggregator.sysusers")
        ),
        Installed(
            "etc/tmpfiles.d/aggregator.conf", 0o644, _packaged("systemd/aggregator.tmpfiles")
        ),
        Installed("etc/aggregator/aggregator.toml", 0o640, _packaged("aggregator.toml"), False),
        Installed("usr/share/doc/aggregator/README.md", 0o644, _readme()),
    ]


def write(root: Path, prefix: str, out: TextIO) -> int:
    """Write the files under ``root``; say what was written and what to run next."""
    exe = Path(prefix) / "bin" / "aggregator"
    staged = root / exe.relative_to("/")
    if not (exe.exists() or staged.exists()):
        raise AggregatorError(
            f"no {exe}: install the package there first (--prefix names its environment)"
        )
    for f in files(prefix):
        target = root / f.path
        if target.exists() and not f.replace:
            print(f"kept     {target} (yours)", file=out)
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.new")
            tmp.write_text(f.text, encoding="utf-8")
            os.chmod(tmp, f.mode)
            os.replace(tmp, target)
        except OSError as e:
            raise AggregatorError(f"cannot write {target}: {e.strerror or e}") from None
        print(f"written  {target}", file=out)
    if root == Path("/"):
        print(
            "next: systemd-sysusers && systemd-tmpfiles --create aggregator.conf"
            " && systemctl daemon-reload && systemctl enable --now aggregator",
            file=out,
        )
    return 0


def show(prefix: str, out: TextIO) -> int:
    """Print every file, each under a line naming where it goes."""
    for f in files(prefix):
        print(f"# ==> /{f.path} (mode {f.mode:04o}) <==", file=out)
        out.write(f.text if f.text.endswith("\n") else f.text + "\n")
    return 0


def default_prefix() -> str:
    """The environment this command runs from (its console script is PREFIX/bin/aggregator)."""
    return sys.prefix
