"""A WebSocket session's listener on picows (stream.py opens the session): picows hands it
each frame; a whole text message goes to the codec (``on_message``) and its replies back, a
fragmented one is reassembled (bounded), the rest of RFC 6455 that a session meets is
handled here, and a handler's error ends the session with that error. With the compiled
base (compiled.py), a whole frame goes to the routes reader in picows's buffer first."""

from __future__ import annotations

from collections.abc import Callable

from picows import WSFrame, WSListener, WSMsgType, WSTransport

from .compiled import LISTENER_BASE

TEXT, BINARY = WSMsgType.TEXT, WSMsgType.BINARY
CONTINUATION, CLOSE = WSMsgType.CONTINUATION, WSMsgType.CLOSE


class SessionClosed(Exception):
    """The session ended: the venue closed it, the connection was lost, or we dropped it."""


_Base = LISTENER_BASE
COMPILED_LISTENER = _Base is not WSListener


OnMessage = Callable[[bytes], list[str] | None]


class Opening:
    """A session being opened, as its listener sees it. Given up (the open timed out or was
    cancelled while picows waited for the venue's answer, which picows then completes with
    no one waiting), the listener drops the connection as it comes up, and one that came up
    meanwhile is dropped then: no session is left streaming that nobody holds."""

    def __init__(self) -> None:
        self.given_up = False
        self.transport: WSTransport | None = None

    def give_up(self) -> None:
        self.given_up = True
        if self.transport is not None:
            self.transport.disconnect(graceful=False)
            self.transport = None


def _ignore(message: bytes) -> None:
    return None


class Listener(_Base):  # type: ignore[misc, valid-type]
    """A session's frames (``on_frame``): the codec's messages to ``on_message``, its replies
    back, the read's end to ``on_read_end`` (with the compiled base: the rest of them)."""

    def __init__(
        self,
        on_message: OnMessage,
        first: list[str],
        on_open: Callable[[], None],
        max_size: int,
        on_read_end: Callable[[], None] | None,
        opening: Opening,
    ) -> None:
        self.opening = opening
        self.on_message = on_message
        self.first = first
        self.on_open = on_open
        self.max_size = max_size
        self.on_read_end = on_read_end
        self.error: BaseException | None = None  # raised by on_message; ends the session
        self._parts: bytearray | None = None  # a fragmented message being reassembled
        if COMPILED_LISTENER:
            super().__init__()
            fallback = getattr(on_message, "fallback", None)
            if fallback is not None:  # a routes reader: frames in C, the rest to its fallback
                self.reader: OnMessage | None = on_message
                self.on_message = fallback

    def on_ws_connected(self, transport: WSTransport) -> None:
        if not self.opening.given_up:
            self.opening.transport = transport  # (until the open returns, or gives up)
        else:  # no one holds this session: nothing sent, nothing read
            self.on_message, self.on_read_end, self.first = _ignore, None, []
            if COMPILED_LISTENER:
                self.reader = None
            transport.disconnect(graceful=False)
            return
        try:
            first, self.first = self.first, []  # (not kept for the session's life)
            for message in first:  # before any frame of the venue is handled
                transport.send(TEXT, message.encode())
            self.on_open()
        except Exception as e:  # ours, not picows's: raised as such by wait_closed
            self._fail(transport, e)

    def on_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        """A frame as received (the compiled base's: each one its routes did not take)."""
        kind = frame.msg_type
        if kind is TEXT and frame.fin and self._parts is None and not frame.rsv1:  # nearly all
            try:
                replies = self.on_message(frame.get_payload_as_bytes())
            except Exception as e:
                self._fail(transport, e)
                return
            if replies:
                self._reply(transport, replies)
        else:
            self._other(transport, frame, kind)
        if frame.last_in_buffer:
            self.read_done(transport)

    def read_done(self, transport: WSTransport) -> None:
        """The read's last frame is handled: hand on what the read made."""
        if self.on_read_end is not None:
            try:
                self.on_read_end()
            except Exception as e:
                self._fail(transport, e)

    if not COMPILED_LISTENER:
        on_ws_frame = on_frame

    def _other(self, transport: WSTransport, frame: WSFrame, kind: WSMsgType) -> None:
        """Any frame but a whole text message: the rest of RFC 6455 that a session meets."""
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            self._fail(transport, SessionClosed(_reserved(frame)))
        elif (kind is TEXT or kind is BINARY) and self._parts is not None:
            self._fail(
                transport, SessionClosed("protocol error: a message inside a fragmented one")
            )
        elif (kind is TEXT or kind is BINARY) and frame.fin:
            self._deliver(transport, frame.get_payload_as_bytes())
        elif kind is CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif kind is TEXT or kind is BINARY:  # the first fragment
            self._hold(bytearray(frame.get_payload_as_memoryview()))
        elif kind is CONTINUATION and self._parts is None:
            self._fail(transport, SessionClosed("protocol error: a continuation of no message"))
        elif kind is CONTINUATION:
            assert self._parts is not None
            self._parts += frame.get_payload_as_memoryview()
            if len(self._parts) > self.max_size:
                self._fail(transport, SessionClosed(f"message larger than {self.max_size} bytes"))
            elif frame.fin:
                message = bytes(self._parts)
                self._hold(None)
                self._deliver(transport, message)

    def _deliver(self, transport: WSTransport, message: bytes) -> None:
        try:
            replies = self.on_message(message)
        except Exception as e:
            self._fail(transport, e)
            return
        if replies:
            self._reply(transport, replies)

    def _reply(self, transport: WSTransport, replies: list[str]) -> None:
        """Answers to the venue's own pings, sent before the next frame is read."""
        for reply in replies:
            transport.send(TEXT, reply.encode())
        replies.clear()

    def _hold(self, parts: bytearray | None) -> None:
        """A fragmented message opens (its first part) or ends (None)."""
        self._parts = parts
        if COMPILED_LISTENER:
            self.whole = parts is None

    def _fail(self, transport: WSTransport, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self._hold(None)
        transport.disconnect(graceful=False)

    failed = _fail  # (the compiled base's name for it: the routes reader raised)

    def take_error(self) -> BaseException:
        """The error that ended the session (there is one), let go of: raised, its traceback
        holds the frames it passes through and the session with them, so neither the
        listener nor a local of the frame that raises it may keep it (a cycle, freed only
        by the collector's full pass)."""
        error, self.error = self.error, None
        if error is None:
            raise RuntimeError("take_error: the session ended with no error")
        return error


def _reserved(frame: WSFrame) -> str:
    """Why a frame with a reserved bit set ends the session: no extension is ever negotiated
    (no permessage-deflate), so it cannot be read, whatever its opcode (RFC 6455 5.2)."""
    if frame.rsv1:
        return "protocol error: a frame marked compressed (RSV1), no compression negotiated"
    return f"protocol error: a frame with RSV{2 if frame.rsv2 else 3} set, no extension negotiated"
