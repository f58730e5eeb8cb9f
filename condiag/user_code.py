"""The user's own Python: ``FILE.py:NAME`` specs (``--function``, ``condiag model``).

The file is run as Python runs a script — it is the user's code, named by them — as a module of its own, so
two files with the same name do not collide; every failure to load it (no file, a syntax error, an exception at
import, no such name, not callable) is one line and exit 3.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys

from .errors import InputError, UsageError


def split_spec(spec: str, option: str = "--function") -> tuple[str, str]:
    """'path/to/file.py:NAME' -> (path, NAME); a usage error naming ``option`` when either is missing."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name.isidentifier():
        raise UsageError(f"{option} {spec!r}: expected FILE.py:NAME (the file, a colon, the name in it)")
    return path, name


def load_callable(spec: str, option: str = "--function"):
    """Run FILE.py (as a module of its own) and return its NAME; every failure is one line (exit 3)."""
    path, name = split_spec(spec, option)
    if not os.path.isfile(path):
        raise InputError(path, "no such file")
    module_name = "condiag_user_" + hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:12]
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise InputError(path, "cannot be loaded as a Python file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise InputError(path, f"is not valid Python: {exc.msg} (line {exc.lineno})") from None
    except Exception as exc:  # noqa: BLE001 - the user's code: any failure is reported as one line
        raise InputError(path, f"raised {type(exc).__name__} while loading: {exc}") from None
    function = getattr(module, name, None)
    if function is None:
        raise InputError(path, f"defines no {name!r}")
    if not callable(function):
        raise InputError(path, f"{name} is not a function")
    return function
