"""The `sisearch` command: the only code that talks to the terminal.

Every library error becomes one line on stderr and exit code 1; bad option
combinations are usage errors (exit 2). No command shows a traceback unless
SISEARCH_DEBUG is set. Each command is a thin wrapper over the library: options shared
by several commands are decorators (`options`), what they print lives in `output`.
"""

from .main import cli, main

__all__ = ["cli", "main"]
