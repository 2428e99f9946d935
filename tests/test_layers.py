"""The import contract: sisearch's layers, read from the source, so that no upward import,
no cycle and no reach into another module's private names can come back.

Every import counts, at module top or inside a function (a lazy import is still a
dependency); only imports under `if TYPE_CHECKING:` are left out, since they exist for
annotations and never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sisearch"

# Lowest first. A module may import its own unit, anything in its layer's other units
# that does not close a cycle, and anything in a lower layer; never a higher one.
LAYERS: list[set[str]] = [
    {"errors"},  # typed errors every layer raises
    {"language"},  # Sinhala text rules: normalization, keyword keys, romanized reading
    {"documents"},  # reading files into Documents
    {"encoders"},  # loading, fingerprinting and running sentence encoders
    {"core"},  # store, vectors, manifest and its state, search, the write path, Parquet
    {"index", "indexing", "hit_view", "names", "quality"},  # the coordinator and its jobs
    {"cluster", "serve"},  # faces: Ray jobs, the HTTP server and page
    {"cli", "__main__"},  # the command line, the only one that talks to a terminal
]
FACADE = "__init__"  # the package's public names: may import any library layer


def unit_of(module: str) -> str:
    """The layer unit of a full module name: its first part below `sisearch`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACADE


def layer_of(unit: str) -> int:
    for number, units in enumerate(LAYERS):
        if unit in units:
            return number
    raise AssertionError(f"sisearch.{unit} is in no layer: add it to LAYERS in {__file__}")


def module_name(path: Path) -> str:
    parts = ["sisearch", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names imported from it, line) for every import that can run."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[tuple[str, list[str], int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] == "sisearch":
                names = [alias.name for alias in node.names]
                if node.module is None or target == "sisearch":
                    # `from . import x`: x may be a module of that package
                    for name in names:
                        sub = PACKAGE.parent / Path(*f"{target}.{name}".split("."))
                        is_module = sub.with_suffix(".py").exists() or sub.is_dir()
                        found.append(
                            (f"{target}.{name}" if is_module else target, [name], node.lineno)
                        )
                else:
                    found.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sisearch":
                    found.append((alias.name, [], node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def test_every_unit_has_a_layer() -> None:
    for name in MODULES:
        if name != "sisearch":
            layer_of(unit_of(name))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_reaches_up_a_layer(module: str) -> None:
    unit = unit_of(module)
    for target, _, line in GRAPH[module]:
        target_unit = unit_of(target)
        if unit == FACADE:
            assert layer_of(target_unit) <= layer_of("index"), (
                f"{module}:{line} puts the face {target} into the package's public API"
            )
        elif target_unit != FACADE:
            assert layer_of(target_unit) <= layer_of(unit), (
                f"{module}:{line} imports {target}, a higher layer"
                f" ({target_unit} above {unit}; see LAYERS in {__file__})"
            )
        else:
            assert target in ("sisearch", "sisearch.__version__") and unit in LAYERS[-1] | {
                "serve"
            }, f"{module}:{line} imports the package facade; import the module itself"


def test_the_library_never_imports_a_face() -> None:
    faces = LAYERS[-1] | LAYERS[-2]
    for module in MODULES:
        if unit_of(module) in faces:
            continue
        for target, _, line in GRAPH[module]:
            assert unit_of(target) not in faces, f"{module}:{line} imports {target}"


def test_no_module_imports_a_private_name_of_another() -> None:
    for module in MODULES:
        for target, names, line in GRAPH[module]:
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{module}:{line} imports {private} from {target}"


def test_modules_import_without_cycles() -> None:
    modules = {m: {t for t, _, _ in GRAPH[m] if t in MODULES and t != m} for m in MODULES}
    # A package's __init__ importing its own modules is how packages are built, not a cycle
    # of meaning; leave out the edges from a module to a package above it.
    for module, targets in modules.items():
        modules[module] = {t for t in targets if not module.startswith(t + ".")}
    done: set[str] = set()

    def walk(module: str, path: list[str]) -> None:
        if module in path:
            cycle = path[path.index(module) :] + [module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(modules[module]):
            walk(target, [*path, module])
        done.add(module)

    for module in sorted(modules):
        walk(module, [])


def test_the_contract_sees_real_imports() -> None:
    """The reader finds lazy imports and skips TYPE_CHECKING ones (a positive control)."""
    index_imports = {t for t, _, _ in GRAPH["sisearch.index"]}
    assert "sisearch.core.writer" in index_imports
    assert "sisearch.core.store" in index_imports
    writer_imports = {t for t, _, _ in GRAPH["sisearch.core.writer"]}
    assert "sisearch.index" not in writer_imports  # only under TYPE_CHECKING
    cli_imports = {t for t, _, _ in GRAPH["sisearch.cli.serving"]}
    assert "sisearch.serve.app" in cli_imports  # imported inside `serve`
