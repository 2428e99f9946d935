"""The `sisearch` group: every library error becomes one line and an exit code."""

from __future__ import annotations

import os
from typing import Any

import click

from .. import __version__
from ..errors import IndexNotFound, OptionConflict, SisearchError


class SisearchGroup(click.Group):
    """Turns library errors and interrupts into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IndexNotFound as e:
            raise click.ClickException(
                f"{e}. Create one with: sisearch index CORPUS [--index NAME]"
            ) from None
        except OptionConflict as e:
            raise click.UsageError(str(e)) from None
        except SisearchError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo(
                "Interrupted. Everything committed so far is kept; run the same command again"
                " to finish.",
                err=True,
            )
            ctx.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:
            if os.environ.get("SISEARCH_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(e).__name__}: {e} (set SISEARCH_DEBUG=1 to see the traceback)"
            ) from None


@click.group(cls=SisearchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sisearch")
def cli() -> None:
    """Semantic search for Sinhala text.

    \b
      sisearch index corpora/sinhala_passages.txt --model models/si-encoder
      sisearch query "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන" -k 5
    """


def main() -> None:
    cli(prog_name="sisearch")
