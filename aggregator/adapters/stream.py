"""One WebSocket session on picows: frames go from the socket's read callback straight into
the codec and on to the sinks, with no queue, task switch or await per message.

picows was chosen by measurement (bench/README.md, "Choosing the WebSocket client"). It
hands over raw frames; this module adds reassembly of fragmented messages (bounded), the
venue's close code and reason, and a handler's error ending the session with that error.
Only this module and its compiled parts (compiled.py, _listen.pyx) know picows: what it
raises comes out as OSError, TimeoutError, WSError or SessionClosed, its log lines go to the
logger given.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections.abc import Callable

from picows import (
    WSError,
    WSFrame,
    WSHandshakeError,
    WSInvalidURL,
    WSListener,
    WSMsgType,
    WSProtocolError,
    WSTransport,
    ws_connect,
)

from .compiled import LISTENER_BASE, READ_BUFFER, trim

__all__ = [
    "SessionClosed",
    "WSError",
    "WSHandshakeError",
    "WSInvalidURL",
    "WebSocket",
    "open_websocket",
]

TEXT, BINARY = WSMsgType.TEXT, WSMsgType.BINARY
CONTINUATION, CLOSE = WSMsgType.CONTINUATION, WSMsgType.CLOSE


class SessionClosed(Exception):
    """The session ended: the venue closed it, the connection was lost, or we dropped it."""


Logger = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]


_Base = LISTENER_BASE
COMPILED_LISTENER = _Base is not WSListener


OnMessage = Callable[[bytes], list[str] | None]


class _Listener(_Base):  # type: ignore[misc, valid-type]
    """A session's frames (``on_frame``): the codec's messages to ``on_message``, its replies
    back, the read's end to ``on_read_end`` (with the compiled base: the rest of them)."""

    def __init__(
        self,
        on_message: OnMessage,
        first: list[str],
        on_open: Callable[[], None],
        max_size: int,
        on_read_end: Callable[[], None] | None,
    ) -> None:
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
                self.reader = on_message
                self.on_message = fallback

    def on_ws_connected(self, transport: WSTransport) -> None:
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


def _reserved(frame: WSFrame) -> str:
    """Why a frame with a reserved bit set ends the session: no extension is ever negotiated
    (no permessage-deflate), so it cannot be read, whatever its opcode (RFC 6455 5.2)."""
    if frame.rsv1:
        return "protocol error: a frame marked compressed (RSV1), no compression negotiated"
    return f"protocol error: a frame with RSV{2 if frame.rsv2 else 3} set, no extension negotiated"


class WebSocket:
    """An open session: send text, wait for its end, drop it."""

    def __init__(self, transport: WSTransport, listener: _Listener) -> None:
        self._transport = transport
        self._listener = listener

    def send(self, message: str | bytes) -> None:
        data = message.encode() if isinstance(message, str) else message
        self._transport.send(TEXT, data)

    def trim(self) -> int:
        """Give back what the read buffer grew in a burst (compiled.trim): the bytes."""
        return trim(self._transport)

    def abort(self) -> None:
        """Drop the connection now (a stale session); `wait_closed` then returns."""
        self._transport.disconnect(graceful=False)

    def close(self) -> None:
        if not self._transport.is_disconnected:
            if not self._transport.is_close_frame_sent:
                self._transport.send_close()
            self._transport.disconnect()

    async def wait_closed(self) -> SessionClosed:
        """Wait for the session to end; returns why, or raises the handler's error (a
        SessionClosed for a protocol violation the listener saw)."""
        try:
            await self._transport.wait_disconnected()
        except WSProtocolError as e:  # we closed: a frame over the size limit, say
            code = getattr(e.code, "value", e.code)
            what = "message too big" if code == 1009 else "protocol error"
            return SessionClosed(f"{what}, closed with {code}: {e.args[-1]}")
        except WSError as e:
            return SessionClosed(f"protocol error: {e}")
        except Exception as e:  # anything else picows raised: this session's end all the same
            if self._listener.error is None:
                return SessionClosed(f"WebSocket client error: {type(e).__name__}: {e}"[:200])
        if self._listener.error is not None:
            raise self._listener.error
        handshake = self._transport.close_handshake
        if handshake is not None and handshake.recv is not None:
            info = handshake.recv
            code = getattr(info.code, "value", info.code)
            reason = f" {info.reason}" if info.reason else ""
            return SessionClosed(f"closed by the venue: {code}{reason}")
        return SessionClosed("connection lost")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's trust store (or $SSL_CERT_FILE), loaded once per process."""
    return ssl.create_default_context()


async def open_websocket(
    url: str,
    on_message: OnMessage,
    first: list[str],
    on_open: Callable[[], None],
    *,
    on_read_end: Callable[[], None] | None = None,
    open_timeout: float,
    ping_interval: float | None,
    max_size: int,
    logger: Logger | None = None,
) -> WebSocket:
    """Connect and complete the handshake within `open_timeout`.

    `first` (the subscriptions) is sent as soon as the handshake completes, then `on_open`
    is called, before any message of the venue is handled. `on_message` gets every message
    (text or binary, reassembled) and may return messages to send back: the listener sends
    them and empties the list. `on_read_end`, if given, is called once the frames of one
    read of the socket have all been handled (picows marks the last of them), so a caller
    can hand on what the read made without waiting for another turn of the loop.

    Protocol pings are sent when the venue has been quiet for `ping_interval` seconds; no
    pong within as long again drops the connection. Raises OSError (a connection closed
    during the handshake: ConnectionError), TimeoutError, WSError, or SessionClosed for
    anything else picows raises.

    `logger` gets picows's own lines; a LoggerAdapter (one per venue, say) is used as it
    is, where a Logger would get a child per connection, named after its socket.
    """
    context = _tls_context() if url.startswith("wss:") else None
    try:
        async with asyncio.timeout(open_timeout):
            transport, listener = await ws_connect(
                lambda: _Listener(on_message, first, on_open, max_size, on_read_end),
                url,
                ssl_context=context,
                websocket_handshake_timeout=open_timeout,
                enable_auto_ping=bool(ping_interval),
                auto_ping_idle_timeout=ping_interval or 20.0,
                auto_ping_reply_timeout=ping_interval or 20.0,
                max_frame_size=max_size,
                logger_name=logger or "stream",
                read_buffer_init_size=READ_BUFFER,
            )
    except (OSError, TimeoutError, WSError):
        raise
    except Exception as e:
        raise SessionClosed(f"WebSocket client error: {type(e).__name__}: {e}"[:200]) from e
    if not isinstance(listener, _Listener):  # picows returns no listener when the
        # connection ended before the venue's answer was complete (EOF or a reset)
        if transport is not None:
            transport.disconnect(graceful=False)
        raise ConnectionError("connection closed during the opening handshake")
    return WebSocket(transport, listener)
