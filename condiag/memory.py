"""Checks that an allocation fits in the memory that is available, before making it."""

from __future__ import annotations

import os

from .errors import InputError

SPARSE_WORK_VECTORS = 64
"""Dense vectors of length rows + cols that the analysis of a sparse problem may hold at once
(Lanczos bases of ARPACK's default size, LSQR and CG work vectors, equilibration scales)."""


def available_memory_bytes() -> int:
    """Bytes of memory available to this process now.

    Reads ``MemAvailable`` from ``/proc/meminfo`` on Linux; elsewhere falls back to
    the number of free physical pages. Returns a very large number when neither is known.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 62


def format_bytes(n: float) -> str:
    """Human-readable size with a binary prefix, e.g. ``'1.5 GiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} EiB"  # pragma: no cover


def require_memory(nbytes: float, source: str, what: str, fraction: float = 0.8, hint: str | None = None) -> None:
    """Raise :class:`InputError` if ``nbytes`` exceed ``fraction`` of available memory.

    Parameters
    ----------
    nbytes : float
        Bytes the caller is about to allocate (the estimate, before allocating).
    source : str
        The file the data comes from, for the message.
    what : str
        What would be allocated, e.g. ``"a 100000 x 100000 float64 matrix"``.
    hint : str, optional
        What to do instead; by default, a smaller problem or a sparse format.
    fraction : float
        Share of the available memory one allocation may take.
    """
    available = available_memory_bytes()
    if nbytes > fraction * available:
        raise InputError(
            source,
            f"{what} needs {format_bytes(nbytes)}, more than the {format_bytes(available)} "
            "of memory available",
            hint or "use a smaller problem, a sparse format (.mtx or scipy .npz), or a machine with more memory",
        )
