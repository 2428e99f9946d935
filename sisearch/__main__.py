"""`python -m sisearch` runs the command-line interface."""

from .cli import main

main()
