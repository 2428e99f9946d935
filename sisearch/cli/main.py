"""The `sisearch` group: every library error becomes one line and an exit code."""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import Any

import click

from .. import __version__
from ..errors import IndexNotFound, OptionConflict, SisearchError

# The module defining each command: it is imported only when its command runs (or for
# the command list), so `sisearch query` loads no document reader, writer or server.
COMMAND_MODULES = {
    "index": "indexing",
    "import": "indexing",
    "encode": "indexing",
    "export": "indexing",
    "delete": "indexing",
    "rebuild": "indexing",
    "query": "searching",
    "info": "inspecting",
    "list": "inspecting",
    "model": "models",
    "eval": "quality",
    "train": "quality",
    "serve": "serving",
}


class SisearchGroup(click.Group):
    """Loads a command's module when it is asked for; turns library errors and interrupts
    into one line and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMAND_MODULES:
            import_module(f"{__package__}.{COMMAND_MODULES[name]}")
        return super().get_command(ctx, name)

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
        except BrokenPipeError:
            # What reads the output has stopped (`sisearch query ... | head`): stop quietly,
            # as other shell tools do. Python would flush stdout again at exit, so it is
            # pointed at /dev/null first.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(141)
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
