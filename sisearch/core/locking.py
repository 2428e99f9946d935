"""One writer per index: an advisory lock file that the OS releases if the writer dies."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType

from ..errors import IndexBusy, IndexReadOnly

LOCK_FILE = "write.lock"


class WriterLock:
    """Exclusive, non-blocking write lock on an index folder (`flock`, so SIGKILL frees it)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False if another process holds it."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except (PermissionError, OSError) as e:
            if isinstance(e, PermissionError) or e.errno == errno.EROFS:
                raise IndexReadOnly(
                    f"Index {self.path.parent} cannot be changed here: its folder is read-only"
                    " (it can still be searched)"
                ) from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def acquire(self) -> None:
        """Take the lock or raise IndexBusy naming the holder."""
        if not self.try_acquire():
            holder = self.path.read_text(encoding="utf-8", errors="replace").strip() or "?"
            raise IndexBusy(
                f"Index {self.path.parent} is being written by another process (pid {holder});"
                " wait for it to finish and try again"
            )

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
