"""Let go of the pages a read-only file mapping holds in memory.

A model's weights are read through a mapping of `model.safetensors` (direct_export.py):
every page read stays in the process's resident memory until the mapping is closed, so a
base-size model's first export counted its 1.1 GB file on top of what it built from it.
Pages dropped here are the file's, unchanged: a later read brings them back from the page
cache. Elsewhere (another platform, an array not on a mapping) this does nothing.
"""

from __future__ import annotations

import mmap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_PAGE = mmap.PAGESIZE


def forget(array: np.ndarray) -> None:
    """Drop the resident pages under `array` where it lies on an `mmap` (a numpy memmap or
    a view of one). The mapping must be read-only or shared (numpy's modes "r", "r+",
    "w+"): a copy-on-write one (mode "c") would lose its changes."""
    import numpy as np

    owner = array
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base
    advise = getattr(owner, "madvise", None)
    if not isinstance(owner, mmap.mmap) or advise is None or not hasattr(mmap, "MADV_DONTNEED"):
        return
    if array.nbytes == 0 or owner.closed:
        return
    start_of_map = np.frombuffer(owner, dtype=np.uint8).ctypes.data
    first = array.ctypes.data - start_of_map
    start = first - first % _PAGE
    end = min(len(owner), first + array.nbytes)
    advise(mmap.MADV_DONTNEED, start, end - start)
