"""The NATS sink: every record on its own subject, for consumers on other hosts.

Subjects are ``<prefix>.ticker.<exchange>.<BASE-QUOTE>`` and ``<prefix>.status.<exchange>``
(``md.ticker.binance.BTC-USDT``), so a consumer picks what it wants with wildcards:
``md.ticker.*.BTC-USDT``, ``md.ticker.kraken.>``, ``md.status.*``, ``md.>``. The payload
is the record's JSON line, the same bytes the files and the socket get.

With ``jetstream = true`` the records go into a stream (created or updated at the first
connect, and again whenever no stream answers: subjects ``<prefix>.>``, ``max_age``,
``max_bytes``, ``duplicate_window``, ``replicas``), each with a ``Nats-Msg-Id`` of
``<instance>:<exchange>:<ts_recv>:<seq>``: a publish retried after a lost acknowledgement is
stored once, and a restarted daemon (whose ``seq`` starts again at 1, but at a later
``ts_recv``) never collides with its previous run. Without JetStream the records go to core
NATS (at most once, no persistence).

``offer`` never blocks: records wait in a bounded buffer drained in batches by one
publisher task, which hands records to the client only while it is connected. While NATS
is unreachable the buffer holds the newest ``queue_size`` records (plus the batch whose
publish failed, kept for its retry); older ones are dropped and counted. Nothing is logged
per record. nats-py reconnects to any server of the list (forever), and this buffer, not
nats-py's own, is the account of what was lost:

    accepted == published + dropped + unconfirmed + buffered

``published`` counts records the server acknowledged (JetStream) or that a PING/PONG after
the batch confirmed the server received (core NATS). ``unconfirmed`` (core NATS only)
counts records handed to a connection that broke before the confirmation: they may or may
not have arrived. JetStream records are retried until acknowledged instead. ``buffered``
includes records in flight; what is still buffered when ``stop`` gives up counts as
dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js.api import StreamConfig

from ..config import NatsConfig
from ..records import Record

log = logging.getLogger(__name__)

BATCH = 2000  # records per publish round (below nats-py's 4000 pending async publishes)
ACK_TIMEOUT = 2.0  # seconds to wait for a batch's acknowledgements before retrying it
API_TIMEOUT = 5.0  # seconds for a JetStream API request (creating the stream)
RETRY_PAUSE = 0.5  # seconds after a round in which nothing was acknowledged
PENDING_SIZE = 8 << 20  # nats-py's write buffer, bytes
PING_INTERVAL = 10  # seconds; 2 unanswered pings mark the connection dead
LOG_EVERY = 10.0  # at most one line about drops or connection errors this often

Item = tuple[str, str | None, bytes]  # subject, message id (JetStream only), JSON line

_UNSAFE = re.compile(r"[\s.*>]")


def token(text: str) -> str:
    """One subject token: '/' becomes '-', dots, spaces and wildcards become '_'."""
    return _UNSAFE.sub("_", text.replace("/", "-")) or "_"


def subject_for(
    prefix: str, type_: str, exchange: str, symbol: str | None, kind: str = "spot"
) -> str:
    """``md.ticker.binance.BTC-USDT``; status records (no symbol): ``md.status.binance``.
    A derivative's has its kind after the exchange: ``md.ticker.binance.perp.BTC-USDT:USDT``,
    ``md.status.binance.perp`` (so ``md.ticker.binance.*`` is still spot alone)."""
    head = f"{prefix}.{token(type_)}.{token(exchange)}"
    if kind != "spot":
        head = f"{head}.{token(kind)}"
    return head if symbol is None else f"{head}.{token(symbol)}"


class _Buffer:
    """Records waiting to be published: at most ``maxsize`` new ones, the oldest dropped.

    Records taken for a publish that failed come back in front (``requeue``) and are kept
    until they are acknowledged: one of them may be stored already (its acknowledgement
    lost), so dropping it would count as lost a record the stream has. They are at most
    one batch, so the buffer holds at most ``maxsize + BATCH`` records.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.dropped = 0
        self.closed = False
        self._items: deque[Item] = deque()
        self._retry: deque[Item] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items) + len(self._retry)

    def put(self, item: Item) -> bool:
        """Take a record (the oldest dropped when full); False once closed: refused and
        counted as dropped, as the files sink's queue does (it would never be published)."""
        if self.closed:
            self.dropped += 1
            return False
        items = self._items
        if len(items) >= self.maxsize:
            items.popleft()
            self.dropped += 1
        items.append(item)
        if not self._ready.is_set():
            self._ready.set()
        return True

    def requeue(self, batch: list[Item]) -> None:
        """Put a batch back in front, in order, to be taken first."""
        self._retry.extendleft(reversed(batch))
        if batch:
            self._ready.set()

    async def get_batch(self, limit: int) -> list[Item]:
        """Wait for items; up to ``limit`` of them, retries first; [] once closed and empty."""
        while not self._items and not self._retry:
            if self.closed:
                return []
            self._ready.clear()
            await self._ready.wait()
        out: list[Item] = []
        for q in (self._retry, self._items):
            n = min(limit - len(out), len(q))
            out += [q.popleft() for _ in range(n)]
        return out

    def close(self) -> None:
        self.closed = True
        self._ready.set()


class NatsSink:
    """Publishes records to NATS subjects (optionally a JetStream stream); never blocks."""

    name = "nats"

    def __init__(self, cfg: NatsConfig, instance_id: str, stop_timeout: float = 3.0) -> None:
        self._cfg = cfg
        self.instance_id = instance_id
        self.stop_timeout = stop_timeout  # seconds stop() waits for the buffer to drain
        self._prefix = cfg.subject_prefix
        self._js_on = cfg.jetstream
        self._buf = _Buffer(cfg.queue_size)
        self._subjects: dict[tuple[str, str, str | None, str], str] = {}
        self._nc = Client()
        self._js: Any = None
        self._connected = asyncio.Event()
        self._need_stream = cfg.jetstream  # (again) when no stream answers our subjects
        self._inflight: list[asyncio.Future[Any]] = []
        self._ninflight = 0
        self._task: asyncio.Task[None] | None = None
        self._down_since: float | None = None
        self._dropped_at_down = 0
        self._last_log: dict[str, float] = {}
        self.accepted = 0
        self.published = 0
        self.unconfirmed = 0
        self.duplicates = 0  # acknowledged as already stored (a retry of a stored record)
        self.rejected = 0  # refused by the stream (counted in dropped)
        self.reconnects = 0
        self.lost_at_exit = 0  # still buffered or in flight when stop() gave up
        self._stopped = False
        self._said_late = False  # a record offered after stop() was logged

    # --- counters ----------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        return self._buf.dropped + self.rejected + self.lost_at_exit

    @property
    def buffered(self) -> int:
        """Records not yet acknowledged: waiting in the buffer or in flight."""
        return 0 if self._stopped else len(self._buf) + self._ninflight

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # the names /metrics and the socket's status report read from every sink
    @property
    def queue_depth(self) -> int:
        return self.buffered

    @property
    def written(self) -> int:
        return self.published

    @property
    def running(self) -> bool:
        """The publisher runs (connected or reconnecting); see ``connected`` for the link."""
        return self._task is not None and not self._task.done()

    def stats(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "accepted": self.accepted,
            "published": self.published,
            "unconfirmed": self.unconfirmed,
            "duplicates": self.duplicates,
            "reconnects": self.reconnects,
        }

    # --- the hub side --------------------------------------------------------------------
    def offer(self, record: Record, line: bytes) -> None:
        kind = getattr(record, "kind", "spot")  # (a bbo record has none)
        key = (record.type, record.exchange, record.symbol, kind)  # (a status: no symbol)
        subject = self._subjects.get(key)
        if subject is None:
            subject = self._subjects[key] = subject_for(self._prefix, *key)
        msg_id = None
        if self._js_on:  # (numbered per adapter: a derivatives adapter's id names its kind)
            source = record.exchange if kind == "spot" else f"{record.exchange}.{kind}"
            msg_id = f"{self.instance_id}:{source}:{record.ts_recv}:{record.seq}"
        if self._buf.put((subject, msg_id, line)):
            self.accepted += 1
        elif not self._said_late:  # offered after stop(): said once, with the record
            self._said_late = True
            log.warning("nats: a record came after the sink stopped (dropped): %s", line[:300])

    def offer_batch(
        self, records: Sequence[Record], lines: Sequence[bytes], venue: str | None = None
    ) -> None:
        """``offer`` for each pair: a full buffer makes room by dropping its oldest record
        (the hub's BoundedQueue refuses the new one instead), so a batch beyond the room
        left keeps its newest records, as offers one by one do."""
        offer = self.offer
        for record, line in zip(records, lines, strict=True):
            offer(record, line)

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Start publishing in the background; records buffer until the first connect."""
        self._down_since = time.monotonic()
        self._task = asyncio.create_task(self._run(), name="nats-publisher")
        self._task.add_done_callback(_log_crash)

    async def stop(self) -> None:
        """Publish what is buffered within ``stop_timeout``, then close the connection."""
        self._buf.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.stop_timeout)
            except TimeoutError:
                # cancelled, given half a second: a connection attempt in the client library
                # may take its own connect timeout to notice, past the daemon's grace
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=0.5)
            except Exception:  # logged by _log_crash
                pass
        left = self.buffered
        if left:
            log.warning(
                "nats: %d records not published at exit (%s)",
                left,
                "connected" if self.connected else "not connected",
            )
        self.lost_at_exit, self._stopped = left, True
        self._connected.clear()  # so closing is not reported as a disconnect
        with contextlib.suppress(Exception):
            async with asyncio.timeout(0.5):
                await self._nc.close()
        log.info(
            "nats: accepted=%d published=%d dropped=%d unconfirmed=%d reconnects=%d",
            self.accepted,
            self.published,
            self.dropped,
            self.unconfirmed,
            self.reconnects,
        )

    # --- the publisher -------------------------------------------------------------------
    async def _run(self) -> None:
        cfg = self._cfg
        options: dict[str, Any] = {
            "servers": list(cfg.servers),
            "name": f"aggregator:{self.instance_id}",
            "connect_timeout": cfg.connect_timeout,
            "reconnect_time_wait": cfg.reconnect_wait,
            "max_reconnect_attempts": -1,
            "allow_reconnect": True,
            "pending_size": PENDING_SIZE,
            "ping_interval": PING_INTERVAL,
            "max_outstanding_pings": 2,
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
        }
        await self._nc.connect(**options)  # retries every server until one answers
        if self._js_on:
            self._js = self._nc.jetstream(timeout=API_TIMEOUT)
        self._on_up("connected")
        while True:
            await self._connected.wait()
            batch = await self._buf.get_batch(BATCH)
            if not batch:
                return  # closed and drained
            if not self._connected.is_set():  # lost while we waited for records
                self._buf.requeue(batch)
                continue
            if self._js_on:
                await self._publish_js(batch)
            else:
                await self._publish_core(batch)

    async def _publish_core(self, batch: list[Item]) -> None:
        nc, handed = self._nc, 0
        self._ninflight = len(batch)
        try:
            for subject, _, line in batch:
                await nc.publish(subject, line)
                handed += 1
        except (nats.errors.Error, OSError) as e:
            self._log_every("publish", "nats: publish failed: %s", e)
        if handed < len(batch):
            self._buf.requeue(batch[handed:])
            self._ninflight = handed
        if handed and not self._connected.is_set():
            self.unconfirmed += handed
        elif handed:
            flush = asyncio.ensure_future(nc.flush(int(ACK_TIMEOUT)))
            self._inflight = [flush]  # a disconnect cancels it: the PONG would never come
            try:
                await flush
                self.published += handed
            except asyncio.CancelledError:
                if _cancelling():
                    raise  # stop() gave up: what is in flight counts as lost at exit
                self.unconfirmed += handed
            except nats.errors.Error:
                self.unconfirmed += handed
            finally:
                self._inflight = []
        self._ninflight = 0
        if handed < len(batch):
            await asyncio.sleep(RETRY_PAUSE)

    async def _publish_js(self, batch: list[Item]) -> None:
        self._ninflight = len(batch)
        if self._need_stream and not await self._ensure_stream():
            self._buf.requeue(batch)
            self._ninflight = 0
            await asyncio.sleep(RETRY_PAUSE)
            return
        js = self._js
        futures: list[asyncio.Future[Any]] = []
        try:
            for subject, msg_id, line in batch:
                headers = {"Nats-Msg-Id": msg_id} if msg_id else None
                futures.append(await js.publish_async(subject, line, headers=headers))
        except (nats.errors.Error, OSError) as e:
            self._log_every("publish", "nats: publish failed: %s", e)
        if not self._connected.is_set():
            for fut in futures:
                fut.cancel()  # the connection broke while we published: retry them all
        self._inflight = futures
        try:
            if futures:
                await asyncio.wait(futures, timeout=ACK_TIMEOUT)
        except asyncio.CancelledError:  # stop() gave up: count what was acknowledged
            acked = [f for f in futures if _acked(f)]
            self.published += len(acked)
            self._ninflight -= len(acked)
            raise
        finally:
            self._inflight = []
        retry: list[Item] = []
        acked_n = rejected = 0
        for i, item in enumerate(batch):
            sent = futures[i] if i < len(futures) else None
            if sent is not None and _acked(sent):
                acked_n += 1
                self.duplicates += bool(sent.result().duplicate)
            elif sent is not None and isinstance(_error(sent), nats.js.errors.BadRequestError):
                rejected += 1  # the stream refuses it (size, ...): retrying would not help
            else:
                if sent is not None and not sent.done():
                    sent.cancel()  # frees its slot in nats-py; a late ack is ignored
                retry.append(item)
        self.published += acked_n
        if rejected:
            self.rejected += rejected
            self._log_every("rejected", "nats: %d records refused by the stream", rejected)
        self._ninflight = 0
        if retry:
            errors = {type(_error(f)).__name__ for f in futures if _error(f) is not None}
            if "NoStreamResponseError" in errors:
                self._need_stream = True  # no stream answers these subjects (any more)
            self._log_every(
                "retry",
                "nats: %d of %d records not acknowledged (%s); retrying",
                len(retry),
                len(batch),
                ", ".join(sorted(errors)) or "timeout or disconnect",
            )
            self._buf.requeue(retry)
            if not acked_n:
                await asyncio.sleep(RETRY_PAUSE)

    async def _ensure_stream(self) -> bool:
        """Create the stream, or update it to the configured limits; False if impossible."""
        cfg = self._cfg
        config = StreamConfig(
            name=cfg.stream,
            subjects=[f"{cfg.subject_prefix}.>"],
            max_age=cfg.max_age,
            max_bytes=cfg.max_bytes,
            duplicate_window=cfg.duplicate_window,
            num_replicas=cfg.replicas,
        )
        try:
            try:
                await self._js.add_stream(config)
            except nats.js.errors.BadRequestError:  # it exists with other settings
                try:
                    await self._js.update_stream(config)
                except nats.js.errors.APIError as e:
                    log.warning("nats: stream %s kept as it is: %s", cfg.stream, e)
        except (nats.errors.Error, TimeoutError) as e:
            self._log_every("stream", "nats: cannot create stream %s: %s", cfg.stream, e)
            return False
        self._need_stream = False
        log.info(
            "nats: stream %s: %s.>, max_age %.0fs, max_bytes %d, replicas %d",
            cfg.stream,
            cfg.subject_prefix,
            cfg.max_age,
            cfg.max_bytes,
            cfg.replicas,
        )
        return True

    # --- connection events (nats-py callbacks) -------------------------------------------
    def _on_up(self, what: str) -> None:
        url = self._nc.connected_url
        down = time.monotonic() - self._down_since if self._down_since is not None else 0.0
        log.info(
            "nats: %s to %s after %.1fs; %d buffered, %d dropped meanwhile",
            what,
            url.netloc if url else "?",
            down,
            len(self._buf),
            self._buf.dropped - self._dropped_at_down,
        )
        self._down_since = None
        self._connected.set()

    async def _on_disconnected(self) -> None:
        if not self._connected.is_set():
            return
        self._connected.clear()
        self._down_since = time.monotonic()
        self._dropped_at_down = self._buf.dropped
        for fut in self._inflight:
            fut.cancel()  # their replies went with the connection: retry them
        log.warning("nats: disconnected; buffering up to %d records", self._buf.maxsize)

    async def _on_reconnected(self) -> None:
        self.reconnects += 1
        self._on_up("reconnected")

    async def _on_error(self, e: Exception) -> None:
        why = str(e).removeprefix("nats: ") or type(e).__name__
        if self._connected.is_set():
            self._log_every("error", "nats: %s", why)
        else:
            servers = ", ".join(self._cfg.servers)
            self._log_every("error", "nats: cannot connect to %s: %s; retrying", servers, why)

    def _log_every(self, kind: str, msg: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last_log.get(kind, -LOG_EVERY) >= LOG_EVERY:
            self._last_log[kind] = now
            log.warning(msg, *args)


def _acked(fut: asyncio.Future[Any]) -> bool:
    return fut.done() and not fut.cancelled() and fut.exception() is None


def _cancelling() -> bool:
    """Whether the running task itself is being cancelled (not just what it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _error(fut: asyncio.Future[Any]) -> BaseException | None:
    return fut.exception() if fut.done() and not fut.cancelled() else None


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("nats: publisher failed", exc_info=task.exception())
