"""Running the server: the one place that hands its settings to uvicorn and, for several
workers, to their processes through the environment (`Settings.to_environment`)."""

from __future__ import annotations

import os
import socket

from ..errors import CannotListen
from .app import Settings, create_app

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_can_listen(host: str, port: int) -> None:
    """A taken port or an unknown address as one line now, not a server log later."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as e:
        raise CannotListen(
            f"cannot listen on {host}:{port}: {e.strerror or e}. Fix: pick another --port"
            " (or --host)"
        ) from None


def run(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    limit_concurrency: int = 100,
    timeout_keep_alive: int = 5,
) -> None:
    """Serve until stopped: one process holding the app, or `workers` processes that each
    build it from the environment."""
    import uvicorn

    limits = {
        "limit_concurrency": limit_concurrency,
        "timeout_keep_alive": timeout_keep_alive,
        # Request lines up to 1 MiB reach the application, which answers a long URL with
        # its JSON 414 (h11's default, 16 KiB, is a plain-text 400 from uvicorn).
        "h11_max_incomplete_event_size": 1024 * 1024,
        "log_level": "warning",
    }
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, **limits)
        return
    os.environ.update(settings.to_environment())
    uvicorn.run(
        "sisearch.serve.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **limits,
    )
