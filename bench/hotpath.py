"""The daemon's per-message path, in one process, without the network: Binance frames
(the replay server's format) through the codec, the merge, the hub, the file sink and the
socket sink with one real subscriber (a subprocess reading the Unix socket).

    python bench/hotpath.py [--count 200000] [--profile] [--consolidated]

Prints CPU microseconds per message of this process (time.process_time over the whole
run, the file sink's writes and flushes included), split into the frame handler alone
(parse + merge + publish, timed by the wall clock around each batch of frames: the run is
CPU-bound) and the rest (sinks draining). --profile prints the top of a
cProfile of the same run. --consolidated runs the consolidated view too (one venue: its
books have one quote each; bench/consolidated.py measures books of many venues). The
network part is measured by bench/run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from aggregator.adapters.emitter import Connection  # noqa: E402
from aggregator.adapters.frames import frame_handler  # noqa: E402
from aggregator.adapters.registry import codec_class  # noqa: E402
from aggregator.adapters.runner import Adapter  # noqa: E402
from aggregator.app import Daemon  # noqa: E402
from aggregator.config import loads  # noqa: E402

from replay_server import SYMBOLS as ALL_SYMBOLS  # noqa: E402
from replay_server import exchange_info, render  # noqa: E402


async def amain(a: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="hot-", dir="/tmp"))
    symbols = ALL_SYMBOLS[:5]
    cfg = loads(
        "\n".join(
            [
                "[daemon]",
                f'state_dir = "{tmp / "state"}"',
                "[files]",
                f'dir = "{tmp / "data"}"',
                "[socket]",
                f'path = "{tmp / "agg.sock"}"',
                "[exchanges.binance]",
                "symbols = [" + ",".join(f'"{b}/{q}"' for _, b, q, _ in symbols) + "]",
                f"[consolidated]\nenabled = {'true' if a.consolidated else 'false'}",
            ]
        )
    )
    daemon = Daemon(cfg)
    assert daemon.files is not None and daemon.socket is not None
    await daemon.files.start()
    await daemon.socket.start()
    sub = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "subscriber.py"), str(tmp / "agg.sock"),
        "--count", str(a.count), "--max-seconds", "120",
        stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert sub.stdout is not None
    await sub.stdout.readline()  # connected
    adapter: Adapter = daemon.adapters[0]
    table = codec_class("binance").markets_from(exchange_info(symbols))
    codec = codec_class("binance")(table)
    codec.subscribe(list(table.markets))
    conn = Connection(None, read_end=True)  # a session's: the read's end is its call
    handler = frame_handler(adapter.emitter, codec, conn)
    distinct = [render(i, symbols[i % 5][0], symbols[i % 5][3]) for i in range(2000)]
    frames = [distinct[i % len(distinct)] for i in range(a.count)]
    batch = 64  # frames per read callback, as a busy socket delivers them
    if a.no_gc:
        gc.disable()

    prof = cProfile.Profile() if a.profile else None
    t_handler = 0.0
    c0 = time.process_time()
    if prof:
        prof.enable()
    for i in range(0, len(frames), batch):
        h0 = time.perf_counter()  # (process_time is a slow system call on some VMs)
        for raw in frames[i : i + batch]:
            handler(raw)
        adapter.emitter.flush()  # the read's end (stream.py's on_read_end)
        t_handler += time.perf_counter() - h0
        await asyncio.sleep(0)  # the sinks run between reads
    await daemon.socket.stop()
    await daemon.files.stop()
    if prof:
        prof.disable()
    cpu = time.process_time() - c0
    line = await sub.stdout.readline()
    sub.stdin.close()  # type: ignore[union-attr]
    await sub.wait()
    n = a.count
    print(f"messages {n}; written {daemon.files.written}; subscriber: {line.decode().strip()}")
    print(f"cpu us/msg: total {cpu * 1e6 / n:.2f}; handler (parse, merge, publish) "
          f"{t_handler * 1e6 / n:.2f}; sinks {(cpu - t_handler) * 1e6 / n:.2f}")  # fmt: skip
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--no-gc", action="store_true", help="the cyclic GC off (its share)")
    ap.add_argument("--consolidated", action="store_true", help="the consolidated view on")
    a = ap.parse_args()
    import uvloop

    uvloop.run(amain(a))


if __name__ == "__main__":
    main()
