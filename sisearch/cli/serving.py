"""`sisearch serve`."""

from __future__ import annotations

from pathlib import Path

import click

from .main import cli
from .options import index_dir_option


@cli.command("serve")
@index_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--token",
    envvar="SISEARCH_TOKEN",
    help="Bearer token that writes (adding files and documents, deleting) must carry (default"
    " $SISEARCH_TOKEN). Without one the server is read-only.",
)
@click.option("--read-only", is_flag=True, help="Refuse every write, even with a token.")
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="Let pages from this origin call the API (repeatable); CORS is off by default.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (each holds its own copy of the indexes it serves).",
)
@click.option(
    "--limit-concurrency",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="Connections a worker holds at once; more are answered 503 at once.",
)
@click.option(
    "--timeout-keep-alive",
    default=5,
    show_default=True,
    type=click.IntRange(1),
    help="Seconds an idle kept-alive connection stays open.",
)
@click.option(
    "--body-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a request body may go without a byte before it is refused (408).",
)
@click.option(
    "--max-upload-mb",
    default=50,
    show_default=True,
    type=click.IntRange(1, 4096),
    help="Largest request that sends files to an index (POST /api/indexes/NAME/files), in MiB;"
    " other requests stay within 8 MiB.",
)
def serve_command(
    index_dir: Path,
    host: str,
    port: int,
    token: str | None,
    read_only: bool,
    cors_origins: tuple[str, ...],
    workers: int,
    limit_concurrency: int,
    timeout_keep_alive: int,
    body_timeout: float,
    max_upload_mb: int,
) -> None:
    """Serve the indexes over HTTP: a Sinhala search page, a JSON API and its docs at /docs.

    \b
      sisearch serve                       # http://127.0.0.1:8000
      sisearch serve --host 0.0.0.0 --port 8080 --token "$SISEARCH_TOKEN"
      sisearch serve --token "$T" --max-upload-mb 200   # larger scanned PDFs sent to it
    """
    try:
        import uvicorn  # noqa: F401

        from ..serve.app import Settings
        from ..serve.run import LOOPBACK, check_can_listen, run
    except ImportError as e:
        raise click.ClickException(
            f"sisearch serve needs the serve extra ({e.name} is missing); install it with:"
            " pip install 'sisearch[serve]'"
        ) from None
    check_can_listen(host, port)
    settings = Settings(
        index_dir, token or None, read_only, cors_origins, body_timeout, max_upload_mb * 1024**2
    )
    access = "read-write (token required)" if settings.writable else "read-only"
    click.echo(
        f"Serving {index_dir} at http://{host}:{port} ({access}); API docs at /docs", err=True
    )
    if token and host not in LOOPBACK:
        click.echo(
            "Note: the token travels in plain HTTP; put a TLS reverse proxy in front.", err=True
        )
    run(settings, host, port, workers, limit_concurrency, timeout_keep_alive)
