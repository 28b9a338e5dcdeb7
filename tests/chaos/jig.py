"""A machine of the daemon's own: run in a private mount namespace, mount a small tmpfs on the
data directory, start the daemon, and do to that file system what the test asks.

Started by tests/chaos/machine.py as ``unshare --user --map-root-user --mount python jig.py
--data DIR --size BYTES -- COMMAND...`` (or ``unshare --mount`` as root where user namespaces
are off), so the faults are real (ENOSPC, EROFS, even for root) on any machine that allows a
user namespace, and never touch the host's mounts. The daemon's stderr is the jig's.

Protocol: one JSON object per line. The jig first writes ``{"pid": N}`` (the daemon's pid,
valid outside: the pid namespace is shared), then answers each request on stdin with one
line (``{"error": "..."}`` when it failed):

- ``{"op": "fill"}``: write a filler file until the disk is full -> ``{"bytes": N}``
- ``{"op": "free"}``: delete it, then wait until a data file grows -> ``{"recovery_s": S}``
- ``{"op": "ro"}``: remount read-only -> ``{"hups": N, "attempts": N}``. A remount is refused
  (EBUSY) while a file is open for writing: the jig asks the daemon to close its files
  (SIGHUP) and remounts before they are reopened.
- ``{"op": "rw"}``: remount read-write, then wait until a data file grows -> ``{"recovery_s": S}``
- ``{"op": "size"}``: ``{"bytes": N}``, the data files' total size
- ``{"op": "wait", "timeout": S}``: wait for the daemon to exit -> ``{"rc": N, "took": S}``
- ``{"op": "collect", "dest": DIR}``: copy the data files to DIR (on the host) -> ``{"files": N}``

At the end of stdin the daemon is killed if still running, and the jig exits.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MS_RDONLY = 1
MS_REMOUNT = 32
PR_SET_PDEATHSIG = 1
FILLER = ".filler"
CHUNK = 1 << 16
GROWTH_TIMEOUT = 15.0  # seconds to wait for the daemon to write again
RO_TIMEOUT = 10.0  # seconds to get a read-only remount through
HUP_EVERY = 0.25  # seconds between SIGHUPs while the remount is refused

_libc = ctypes.CDLL(None, use_errno=True)


def mount(source: str | None, target: Path, fstype: str | None, flags: int, data: str) -> None:
    def b(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    if _libc.mount(b(source), b(str(target)), b(fstype), flags, b(data)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {target}: {os.strerror(e)}")


def data_bytes(root: Path) -> int:
    total = 0
    for path in root.rglob("*.jsonl*"):
        with contextlib.suppress(FileNotFoundError):  # compressed meanwhile
            total += path.stat().st_size
    return total


class Jig:
    def __init__(self, data: Path, size: int, command: list[str]) -> None:
        self.data = data
        self.size = size
        data.mkdir(parents=True, exist_ok=True)
        mount("tmpfs", data, "tmpfs", 0, f"size={size},mode=0755")
        self.child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self.rc: int | None = None

    # --- requests ----------------------------------------------------------------------
    def fill(self) -> dict[str, Any]:
        written = 0
        fd = os.open(self.data / FILLER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for chunk in (CHUNK, 4096, 512):
                block = b"\0" * chunk
                for _ in range(self.size // chunk + 16):  # bounded: the disk is that small
                    try:
                        written += os.write(fd, block)
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)
        return {"bytes": written}

    def free(self) -> dict[str, Any]:
        before = data_bytes(self.data)
        (self.data / FILLER).unlink()
        return {"recovery_s": self._until_growth(before, time.monotonic())}

    def ro(self) -> dict[str, Any]:
        hups = attempts = 0
        deadline = time.monotonic() + RO_TIMEOUT
        next_hup = 0.0
        while True:
            attempts += 1
            try:
                mount(None, self.data, None, MS_REMOUNT | MS_RDONLY, "")
                return {"hups": hups, "attempts": attempts}
            except OSError as e:
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise
            now = time.monotonic()
            if now >= next_hup:  # close your files, please
                os.kill(self.child.pid, signal.SIGHUP)
                hups += 1
                next_hup = now + HUP_EVERY
            time.sleep(0.001)

    def rw(self) -> dict[str, Any]:
        before = data_bytes(self.data)
        mount(None, self.data, None, MS_REMOUNT, "")
        return {"recovery_s": self._until_growth(before, time.monotonic())}

    def wait(self, timeout: float) -> dict[str, Any]:
        t0 = time.monotonic()
        self.rc = self.child.wait(timeout)
        return {"rc": self.rc, "took": time.monotonic() - t0}

    def collect(self, dest: str) -> dict[str, Any]:
        out = Path(dest)
        shutil.copytree(self.data, out, ignore=shutil.ignore_patterns(FILLER))
        return {"files": sum(1 for p in out.rglob("*") if p.is_file())}

    # --- helpers -----------------------------------------------------------------------
    def _until_growth(self, before: int, t0: float) -> float:
        """Seconds until the data files hold more than ``before`` bytes."""
        while data_bytes(self.data) <= before:
            if time.monotonic() - t0 > GROWTH_TIMEOUT:
                raise TimeoutError(f"no new data within {GROWTH_TIMEOUT:.0f} s")
            time.sleep(0.005)
        return time.monotonic() - t0

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        if op == "fill":
            return self.fill()
        if op == "free":
            return self.free()
        if op == "ro":
            return self.ro()
        if op == "rw":
            return self.rw()
        if op == "size":
            return {"bytes": data_bytes(self.data)}
        if op == "wait":
            return self.wait(float(req.get("timeout", 15.0)))
        if op == "collect":
            return self.collect(str(req["dest"]))
        return {"error": f"unknown op {op!r}"}

    def close(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait()


def _die_with_parent() -> None:
    """In the daemon, before exec: a SIGKILL when the jig goes, so nothing is left behind."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def reply(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        jig = Jig(args.data, args.size, command)
    except OSError as e:
        reply({"error": str(e)})
        return 1
    try:
        reply({"pid": jig.child.pid})
        for line in sys.stdin:
            try:
                reply(jig.handle(json.loads(line)))
            except (OSError, subprocess.TimeoutExpired, ValueError, KeyError) as e:
                reply({"error": f"{type(e).__name__}: {e}"})
    finally:
        jig.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
