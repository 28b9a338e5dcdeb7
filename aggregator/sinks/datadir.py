"""The data directory as the file sink holds it: locked against a second daemon, watched for
being removed or replaced, and the one place its files are made.

Every directory and file is opened relative to the descriptor of the directory this daemon
holds the lock on, never through the path: a daemon that lost its directory can only fail to
create files in the removed one, never create them in a directory another daemon recreated
and locked. No asyncio here: these run at start or in the writer's worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import NamedTuple

from ..errors import AggregatorError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class Fate(NamedTuple):
    """What became of a file or directory held open, found no longer at its name."""

    removed: bool  # no name left (unlink, rmdir): what it held is gone with it
    now: str  # what has the name now: "nothing", "a file" or "a directory"

    def __str__(self) -> str:
        how = "removed" if self.removed else "moved away"
        return how if self.now == "nothing" else f"{how} and {self.now} put in its place"


def fate(held: int, name: str | Path, dir_fd: int | None = None) -> Fate | None:
    """None while ``name`` (relative to ``dir_fd``) is still what ``held`` has open; else what
    happened to it. Two stat calls: cheap enough for every flush."""
    try:
        now = os.stat(name, dir_fd=dir_fd)
    except (FileNotFoundError, NotADirectoryError):
        now = None
    except OSError:
        return None  # cannot tell (no permission): a real problem shows when writing
    was = os.fstat(held)
    if now is not None and (now.st_dev, now.st_ino) == (was.st_dev, was.st_ino):
        return None
    what = "nothing" if now is None else "a directory" if stat.S_ISDIR(now.st_mode) else "a file"
    return Fate(was.st_nlink == 0, what)


class DataDir:
    """The data directory and the exclusive lock this daemon holds on it (``fd``, or None
    while it has none: lost, or taken by another daemon)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fd: int | None = None

    def lock(self) -> None:
        """At start: create and lock the directory, or refuse to run, saying why."""
        why = self.relock()
        if why is not None:
            raise AggregatorError(f"files: data directory {str(self.root)!r} {why}")

    def relock(self) -> str | None:
        """Create the directory if it is missing and lock it: None once locked, else why
        not, to follow "data directory X" ("is in use by another running daemon"). Never
        removes or replaces anything in the way (a user's file stays)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root, DIR_FLAGS)
        except (FileExistsError, NotADirectoryError):
            return "is not a directory"
        except OSError as e:
            return f"cannot be opened: {e.strerror}"
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return "is in use by another running daemon"
            return f"cannot be locked: {e.strerror}"
        self.fd = fd
        return None

    def check(self) -> Fate | None:
        """None while the path still names the locked directory."""
        return None if self.fd is None else fate(self.fd, self.root)

    def subdir(self, name: str) -> int:
        """A descriptor of the directory ``name`` ("kraken", "kraken/status") inside the
        locked one, made (with its parents) if missing."""
        if self.fd is None:
            raise OSError(errno.ENOENT, "data directory not held")
        parts = name.split("/")
        for i in range(1, len(parts) + 1):
            with contextlib.suppress(FileExistsError):
                os.mkdir("/".join(parts[:i]), 0o755, dir_fd=self.fd)
        return os.open(name, DIR_FLAGS, dir_fd=self.fd)

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # and the lock with it
