"""Writing report files atomically: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import os
import tempfile

from .errors import InputError


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see either the old file or the whole new one.

    A process killed mid-write leaves at most a hidden ``.condiag-*.tmp`` file, never a
    partial ``path``.
    """
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(folder):
        raise InputError(path, "cannot be written: its folder does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".condiag-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(path, f"cannot be written: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
