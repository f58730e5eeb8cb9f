"""Writing report files: atomically onto regular files, streamed onto anything else.

A regular file (or a path that does not exist yet) is written through a temporary file in
the same folder and a rename, so readers see either the old file or the whole new one, and
a process killed mid-write leaves at most a hidden ``.condiag-*.tmp`` file. A symbolic link
is followed and its *target* replaced (the link stays a link). A device, FIFO or socket
(``/dev/null``, ``/dev/stdout``, ``>(gzip > r.gz)``) is opened and written in place: renaming
over it would destroy it.
"""

from __future__ import annotations

import os
import stat
import tempfile

from .errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _shown(path) -> str:
    """A path as printable text, whatever bytes its name holds (undecodable bytes as \\xNN)."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", errors="backslashreplace")


def _fail(path: str, exc: OSError):
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"{_shown(path)}: cannot be written: {reason}")


def write_atomic(path: str, text: str | bytes) -> None:
    """Write ``text`` (UTF-8) or bytes to ``path``; see the module docstring for what each kind of path gets.

    An existing regular file keeps its permission bits (and, where allowed, its owner); a new
    file gets the mode a shell redirection would give it (0666 less the umask).
    """
    data = text if isinstance(text, bytes) else text.encode("utf-8", errors="surrogateescape")
    target = os.path.realpath(path)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise _fail(path, exc) from exc
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{_shown(path)}: cannot be written: it is a directory")
    if info is not None and not stat.S_ISREG(info.st_mode):
        try:
            with open(target, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise _fail(path, exc) from exc
        return
    folder = os.path.dirname(target) or "."
    if not os.path.isdir(folder):
        raise OutputError(f"{_shown(path)}: cannot be written: its folder does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".condiag-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _fail(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if info is None:
            os.chmod(tmp, 0o666 & ~_umask())
        else:
            os.chmod(tmp, stat.S_IMODE(info.st_mode))
            try:
                os.chown(tmp, info.st_uid, info.st_gid)
            except OSError:
                pass  # not ours to give away; the mode is kept all the same
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _fail(path, exc) from exc
        raise
