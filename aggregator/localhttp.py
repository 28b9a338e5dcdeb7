"""The daemon's own HTTP servers (/metrics and /health, the live page): one way to start one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .errors import AggregatorError


async def serve(app: web.Application, host: str, port: int, what: str) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on host:port (the daemon handles signals and logs itself); the runner and
    the port bound (the one the OS gave for 0). AggregatorError, "``what`` on host:port: why",
    when the address cannot be used."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise AggregatorError(f"{what} on {host}:{port}: {e.strerror or e}") from None
    server: Any = site._server  # an asyncio.Server once started
    if server is not None and server.sockets:
        port = server.sockets[0].getsockname()[1]
    return runner, port
