"""The compiled listener's parts (adapters/_listen.pyx, against picows's Cython
declarations), where the install built it: the base of stream.py's listener, which hands a
whole frame to the routes reader in picows's buffer, and the trim of a session's read
buffer. Without it: picows's WSListener, and buffers left as picows grows them."""

from __future__ import annotations

import importlib
from typing import Any

from picows import WSListener, WSTransport

from ..collector import release

# A session's read buffer: picows's to start with, and what a session keeps of it between
# bursts (trim). Reads take at most what is free in it, and picows doubles it whenever a
# read fills it; at scale a read carries one frame or a few (under 1 KiB).
READ_BUFFER = 4096
# the read buffers given back since the C heap last handed free pages to the system
RELEASE_AFTER = 4 << 20


def _listen() -> Any:
    try:
        return importlib.import_module("aggregator.adapters._listen")
    except ImportError:
        return None


_built = _listen()
# FrameListener where built (picows hands it each frame), else WSListener
LISTENER_BASE: type[WSListener] = WSListener if _built is None else _built.FrameListener
_given = 0


def trim(transport: WSTransport) -> int:
    """Give back what a session's read buffer grew past READ_BUFFER, if no bytes wait in it
    (_listen.pyx's trim_read_buffer); returns the bytes given back (0 where not built). Once
    sessions gave back RELEASE_AFTER in all, the C heap's free pages go back to the system
    (collector.release): freed and not handed back, they would stay in the resident set."""
    global _given
    if _built is None:
        return 0
    given: int = _built.trim_read_buffer(transport, READ_BUFFER)
    if given:
        _given += given
        if _given >= RELEASE_AFTER:
            _given = 0
            release()
    return given
