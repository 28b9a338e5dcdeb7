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

from picows.picows cimport WSFrame, WSListener, WSMsgType, WSTransport


cdef extern from "_frames.h":
    int frames_import() except -1
    int frames_feed_reader(object reader, const char *data, Py_ssize_t size) except? -1


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
