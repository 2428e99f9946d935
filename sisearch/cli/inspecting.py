"""Commands that describe indexes: info and list."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from ..index import Index
from ..names import index_folders, index_location
from .main import cli
from .options import index_dir_option, index_options, json_option
from .output import (
    console,
    human_bytes,
)


@cli.command("info")
@index_options
@json_option("Print the information as JSON.")
def info_command(index_name: str, index_dir: Path, as_json: bool) -> None:
    """Describe an index: counts, model, normalization, index type, sizes.

    \b
      sisearch info --index news --json
    """
    with Index.open(index_location(index_dir, index_name)) as index:
        info = index.info()
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
        return
    table = Table(show_header=False, box=None)
    for key, value in info.items():
        table.add_row(key, human_bytes(value) if key.endswith("_bytes") else str(value))
    console().print(table)


@cli.command("list")
@index_dir_option
@json_option("One JSON object per index and line.")
def list_command(index_dir: Path, as_json: bool) -> None:
    """List the indexes in the index directory.

    \b
      sisearch list
    """
    rows = []
    for folder in index_folders(index_dir):
        with Index.open(folder) as index:
            info = index.info()
        fields = ("documents", "chunks", "model", "database_bytes", "vectors_bytes")
        rows.append({"name": folder.name, **{k: info[k] for k in fields}})
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"No indexes in {index_dir}. Create one with: sisearch index CORPUS")
        return
    table = Table("name", "documents", "chunks", "model", "size")
    for row in rows:
        size = human_bytes(row["database_bytes"] + row["vectors_bytes"])
        table.add_row(row["name"], str(row["documents"]), str(row["chunks"]), row["model"], size)
    console().print(table)
