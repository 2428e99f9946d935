"""EncoderSlot: the one owner of the engine an open index encodes with.

It holds the engine (ONNX or PyTorch) and, while it is still needed, the PyTorch model
(or the fp32 graph) the engine was checked against. It closes what it owns and never what
it was lent: a server lends its reader's warm engine to each write, and the write must
leave it running for the searches that share it.
"""

from __future__ import annotations

import gc
from typing import Any

from .encoder import Encoder, TextEncoder


class EncoderSlot:
    """The engine of one open index, owned or borrowed, and its PyTorch reference."""

    def __init__(self) -> None:
        self._engine: TextEncoder | None = None
        self._reference: Encoder | None = None
        # Without a PyTorch model, the fp32 graph int8 is checked against (direct_export.py).
        self.yardstick: Any = None
        self._borrowed = False

    @property
    def engine(self) -> TextEncoder | None:
        """The engine, None until one is held or lent."""
        return self._engine

    @property
    def reference(self) -> Encoder | None:
        """The PyTorch model the engine was checked against, while it is kept."""
        return self._reference

    def hold(self, engine: TextEncoder, reference: Encoder | None = None) -> None:
        """Own `engine` (and keep `reference`); an engine owned before is closed."""
        if engine is not self._engine:
            self._close_owned()
        self._engine, self._reference, self._borrowed = engine, reference, False

    def lend(self, engine: TextEncoder) -> None:
        """Use another index's engine; it is never closed here."""
        self._close_owned()
        self._engine, self._borrowed = engine, True

    def keep_reference(self, reference: Encoder) -> None:
        self._reference = reference

    def drop_reference(self) -> None:
        """Let the PyTorch model go (over a GiB for the base size) once it is not needed."""
        if self.yardstick is not None:
            self.yardstick.close()
            self.yardstick = None
            gc.collect()
        if self._reference is not None and self._reference is not self._engine:
            self._reference = None
            gc.collect()

    def close(self) -> None:
        self._close_owned()
        self.drop_reference()

    def _close_owned(self) -> None:
        close = getattr(self._engine, "close", None)
        if close is not None and not self._borrowed:
            close()
