"""Dropping a mapped file's resident pages frees memory and changes no value."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sisearch.encoders.pages import forget


def resident_file_mib() -> float:
    status = Path("/proc/self/status").read_text(encoding="ascii")
    line = next(line for line in status.splitlines() if line.startswith("RssFile:"))
    return int(line.split()[1]) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_forgetting_a_mapped_array_frees_its_pages_and_keeps_its_values(tmp_path):
    values = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)
    values.tofile(tmp_path / "w.bin")
    mapped = np.memmap(tmp_path / "w.bin", dtype=np.float32, mode="r", shape=values.shape)
    half = mapped[1000:3048]  # a view, as read_weights hands out
    expected = float(half.sum(dtype=np.float64))
    before = resident_file_mib()
    forget(half)
    assert before - resident_file_mib() > 24  # of the view's 32 MiB
    np.testing.assert_array_equal(half, values[1000:3048])  # read again from the file
    assert float(half.sum(dtype=np.float64)) == expected


def test_arrays_not_on_a_mapping_are_left_alone():
    owned = np.arange(10, dtype=np.float32)
    forget(owned)
    forget(owned[2:5])
    forget(np.empty(0, dtype=np.float32))
    assert owned.tolist() == list(range(10))
