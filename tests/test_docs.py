"""The README documents every command and option that `sisearch --help` lists, and quotes
the measured speed-ups the same way everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from sisearch.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "sisearch") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, f"{prefix} {name} is listed but no module defines it"
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.update(commands(command, path))
        else:
            found[path] = command
    return found


def usage_blocks() -> dict[str, str]:
    """The README's command reference: each `sisearch CMD ...` line with its continuations."""
    reference = README.split("## Command line", 1)[1].split("```", 2)[1]
    blocks: dict[str, str] = {}
    current = ""
    for line in reference.splitlines():
        if line.startswith("sisearch "):
            words = line.split()
            name = " ".join(w for w in words[:3] if re.fullmatch(r"[a-z]+", w))
            current = name
            blocks[current] = blocks.get(current, "") + "\n" + line
        elif current:
            blocks[current] += "\n" + line
    return blocks


COMMANDS = commands(cli)


def test_every_command_is_in_the_reference() -> None:
    assert set(COMMANDS) == set(usage_blocks())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_of_a_command_is_in_its_reference_line(name: str) -> None:
    block = usage_blocks()[name]
    for param in COMMANDS[name].params:
        if isinstance(param, click.Option) and "--help" not in param.opts:
            names = [o for o in param.opts + param.secondary_opts]
            assert any(re.search(rf"{re.escape(n)}\b", block) for n in names), (name, names)


def speedups(text: str) -> set[str]:
    """Every measured ratio ("5.65x as fast", "2.06x and 2.26x", "5.95x on medium ones")."""
    return set(re.findall(r"(\d+\.\d+)x\b", text))


def test_speedups_are_quoted_the_same_everywhere() -> None:
    code = {str(p): p.read_text(encoding="utf-8") for p in (ROOT / "sisearch").rglob("*.py")}
    in_code = set().union(*(speedups(text) for text in code.values()))
    help_text = COMMANDS["sisearch index"].get_help(click.Context(COMMANDS["sisearch index"]))
    assert in_code == {"4.68", "4.66", "1.06"}, in_code
    assert speedups(" ".join(help_text.split())) == {"4.68", "4.66", "1.06"}
    assert in_code <= speedups(README), in_code - speedups(README)


def test_ci_tests_the_lowest_versions_the_pyproject_allows() -> None:
    """Every direct dependency's floor is pinned in .ci/lowest.txt, which CI runs the suite on."""
    import tomllib
    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    requirements = project["dependencies"] + [r for group in extras.values() for r in group]
    floors = {}
    for text in requirements:
        requirement = Requirement(text)
        if requirement.name == "sisearch":
            continue
        lower = [s.version for s in requirement.specifier if s.operator in (">=", "==")]
        assert len(lower) == 1, f"{text}: give exactly one floor (>=, or == for an exact pin)"
        floors[requirement.name] = Version(lower[0])
    pins = {}
    for line in (ROOT / ".ci" / "lowest.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip()] = Version(version.strip())
    assert pins == floors
    assert "lowest.txt" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_readme_layout_names_every_module() -> None:
    """The README's layout table names each module and package, so it matches the tree."""
    layout = README.split("- Layout.", 1)[1].split("Who owns what", 1)[0]
    named = set(re.findall(r"`([a-z_0-9]+)/?`", layout))
    modules = {p.stem for p in (ROOT / "sisearch").rglob("*.py")} - {"__init__", "__main__"}
    packages = {p.parent.name for p in (ROOT / "sisearch").rglob("__init__.py")} - {"sisearch"}
    assert (modules | packages) <= named, sorted((modules | packages) - named)
