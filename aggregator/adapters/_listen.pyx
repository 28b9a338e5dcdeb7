# cython: language_level=3
"""The WebSocket listener's per-frame call, compiled against picows's Cython declarations
(picows.pxd, its public interface for Cython code): picows calls ``on_ws_frame`` directly,
and a whole message in one frame (text, or binary: gzip, which the reader inflates) goes to
the session's routes reader (aggregator/_frames.c) as the bytes in picows's read buffer,
with no Python call and no copy. Every other frame, and
every frame the routes do not describe, goes to the Python listener's ``on_frame``
(stream.py), which does all the rest of RFC 6455 and the codec's Python path.

Optional, as the other compiled parts: without it stream.py's listener derives from
picows's WSListener and handles every frame in Python.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.mem cimport PyMem_Realloc
from picows.picows cimport MemoryBuffer, WSFrame, WSListener, WSMsgType, WSTransport


cdef extern from "_frames.h":
    int frames_import() except -1
    int frames_feed_reader(object reader, const char *data, Py_ssize_t size) except? -1


import gc

import aggregator._frames  # (the capsule is found through the imported module)

frames_import()


cdef class FrameListener(WSListener):
    """The base of stream.py's listener: ``reader`` is the session's routes reader (or
    None); ``whole`` is false while a fragmented message is being put together."""

    cdef public object reader
    cdef public bint whole

    def __init__(self):
        self.reader = None
        self.whole = True

    cpdef on_ws_frame(self, WSTransport transport, WSFrame frame):
        cdef int n
        if (
            self.reader is not None
            and self.whole
            and (frame.msg_type == WSMsgType.TEXT or frame.msg_type == WSMsgType.BINARY)
            and frame.fin
            and not frame.rsv1
        ):
            try:
                n = frames_feed_reader(self.reader, frame.payload_ptr, frame.payload_size)
            except Exception as e:  # the routes' error (a conversion's): the session's end
                self.failed(transport, e)
                return
            if n >= 0:
                if frame.last_in_buffer:
                    self.read_done(transport)
                return
        self.on_frame(transport, frame)  # the Python path: every other frame


# picows leaves this much of its read buffer past the end for its SIMD parsers
_TAIL = 256


def trim_read_buffer(WSTransport transport, Py_ssize_t keep):
    """Give back the part of a session's read buffer over ``keep`` bytes, when no bytes
    wait in it (between reads, at a frame's end); returns the bytes given back.

    picows grows a connection's read buffer (a MemoryBuffer, its declared type) whenever a
    read fills it, doubling it, and never shrinks it: a subscription's burst, or a backlog
    while the loop was busy, leaves every connection with the largest read it ever took,
    for its life (at 800 connections, 39 MB of buffers where 7 would do). The buffer is
    found without picows's private layout: among the protocol's referents, the
    MemoryBuffer whose free part is what the protocol's own ``get_buffer`` offers, from its
    start (so nothing waits) to its usable end. Anything else: it is left alone (0).
    """
    cdef Py_buffer view
    cdef MemoryBuffer buf
    cdef char *data
    cdef Py_ssize_t given
    if keep < 4 * _TAIL or keep % _TAIL:
        raise ValueError(f"keep must be a multiple of {_TAIL} of at least {4 * _TAIL}: {keep}")
    underlying = transport.underlying_transport
    if underlying is None or transport.is_disconnected:
        return 0
    protocol = underlying.get_protocol()
    free = protocol.get_buffer(-1)
    PyObject_GetBuffer(free, &view, PyBUF_SIMPLE)
    start, length = <size_t>view.buf, view.len
    PyBuffer_Release(&view)
    del free  # (it points into the buffer about to move)
    for obj in gc.get_referents(protocol):
        if type(obj) is not MemoryBuffer:
            continue
        buf = <MemoryBuffer>obj
        if <size_t>buf.data != start or buf.size != length:
            continue  # another buffer, or bytes wait in this one
        if buf.capacity <= keep:
            return 0
        data = <char *>PyMem_Realloc(buf.data, keep)
        if data == NULL:
            return 0
        given = buf.capacity - keep
        buf.data = data
        buf.capacity = keep
        buf.size = keep - _TAIL
        return given
    return 0
