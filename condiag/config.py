"""Project configuration: ``[tool.condiag]`` in ``pyproject.toml``, or a ``condiag.toml``.

The file holds defaults and the entries ``condiag check`` runs. Its shape::

    [tool.condiag]              # condiag.toml: the same keys at the top level
    loss = "mean"               # shared: any option of analyze, compare or solve
    fail-on = "error"
    max-condition = 1e8

    [tool.condiag.trace]        # per command: any option of that command
    fail-on = ["diverging", "stalled"]

    [[tool.condiag.files]]      # an entry of `condiag check`
    path = "data/*.npz"         # a glob (or a list), relative to the file's directory
    command = "analyze"         # analyze (default), compare, solve or trace
    lr = [1e-3]
    rhs = "data/b.npy"

Precedence, lowest first: the command's own default, the shared keys, the command's section, the entry,
the command line. This module reads and checks the structure and finds the files; which keys a command
takes and what values they accept is the command line's knowledge (:mod:`condiag.cli` checks them with the
options' own types), so the two cannot drift apart.

Discovery (as ruff and pytest do): from the working directory upwards, the first ``condiag.toml``, or
``pyproject.toml`` holding a ``[tool.condiag]`` table.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError

COMMANDS = ("analyze", "compare", "solve", "trace")
"""The commands a configuration can set and ``condiag check`` can run."""
PROBLEM_COMMANDS = ("analyze", "compare", "solve")
"""The commands the shared (top-level) keys apply to: the ones that read a problem."""
ENTRIES_KEY = "files"
MAX_CONFIG_BYTES = 1 << 20
"""A configuration larger than 1 MiB is refused (it is a few lines)."""
PATH_KEYS = frozenset({"rhs", "test", "test-rhs", "problem"})
"""Keys whose values name files: relative to the configuration's directory, as the entries' globs are."""


class ConfigError(UsageError):
    """The configuration file is malformed or holds a key or value no command takes (exit 2)."""


@dataclass(frozen=True)
class Entry:
    """One ``[[files]]`` entry: the command to run on each file its globs match, with its settings."""

    command: str
    patterns: tuple[str, ...]
    settings: dict = field(default_factory=dict)
    where: str = ""
    """Where it is written, for messages: 'pyproject.toml [[tool.condiag.files]] #2'."""


@dataclass(frozen=True)
class Config:
    """A parsed configuration (empty when there is none)."""

    path: Path | None = None
    shared: dict = field(default_factory=dict)
    sections: dict = field(default_factory=dict)
    entries: tuple[Entry, ...] = ()
    table: str = ""
    """How its table is named in messages: 'pyproject.toml [tool.condiag]' or 'condiag.toml'."""

    @property
    def base(self) -> Path:
        """The directory relative paths are read from: the configuration's own."""
        return self.path.parent if self.path is not None else Path.cwd()

    def resolve(self, key: str, value):
        """A value with the paths of :data:`PATH_KEYS` made relative to the configuration's directory."""
        if key not in PATH_KEYS or not isinstance(value, str) or os.path.isabs(value):
            return value
        return os.path.relpath(self.base / value) if self.path is not None else value


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes is too large for a configuration file")
        with open(path, "rb") as handle:
            raw = handle.read()
        # a UTF-8 byte-order mark (Windows editors add one) is not TOML, but it is no reason to refuse the file
        return tomllib.loads(raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None


def _has_condiag_table(path: Path) -> bool:
    """Whether a pyproject.toml mentions [tool.condiag] (read as bytes: a pyproject without it is not condiag's to judge)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError:
        return False
    return b"tool.condiag" in head


def find_config(start: Path | None = None) -> Path | None:
    """The configuration that applies in ``start`` (default: the working directory), or None."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        own = directory / "condiag.toml"
        if own.is_file():
            return own
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _has_condiag_table(pyproject):
            return pyproject
    return None


def _scalar_or_list(where: str, key: str, value):
    """A setting is a string, number or boolean, or a list of them."""
    def plain(v):
        return isinstance(v, (str, int, float, bool))

    if plain(value) or (isinstance(value, list) and all(plain(v) for v in value)):
        return value
    raise ConfigError(f"{where}: {key} must be a string, number, boolean or a list of them")


def _settings(where: str, table: dict, skip=()) -> dict:
    return {key: _scalar_or_list(where, key, value) for key, value in table.items() if key not in skip}


def parse_config(data: dict, path: Path, table: str) -> Config:
    """The configuration in ``data`` (the [tool.condiag] table, or condiag.toml's top level)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{table}: must be a table")
    sections = {}
    for command in COMMANDS:
        if command in data:
            if not isinstance(data[command], dict):
                raise ConfigError(f"{table}: {command} must be a table of {command}'s settings")
            sections[command] = _settings(f"{table} {command}", data[command])
    raw_entries = data.get(ENTRIES_KEY, [])
    if not isinstance(raw_entries, list) or not all(isinstance(e, dict) for e in raw_entries):
        raise ConfigError(f"{table}: {ENTRIES_KEY} must be an array of tables ([[...{ENTRIES_KEY}]])")
    entries = []
    for number, raw in enumerate(raw_entries, start=1):
        where = f"{table} {ENTRIES_KEY} #{number}"
        patterns = raw.get("path")
        if isinstance(patterns, str):
            patterns = [patterns]
        if not patterns or not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            raise ConfigError(f"{where}: path must be a file name or glob, or a list of them")
        command = raw.get("command", "analyze")
        if command not in COMMANDS:
            raise ConfigError(f"{where}: command = {command!r}: choose from {', '.join(COMMANDS)}")
        entries.append(Entry(command, tuple(patterns), _settings(where, raw, skip=("path", "command")), where))
    shared = _settings(table, data, skip=(*COMMANDS, ENTRIES_KEY))
    return Config(path=path, shared=shared, sections=sections, entries=tuple(entries), table=table)


def load_config(path: str | os.PathLike | None = None) -> Config:
    """The configuration at ``path``, else the one :func:`find_config` finds, else an empty one.

    A pyproject.toml named explicitly must hold [tool.condiag]; any other file is read as condiag.toml.
    """
    if path is None:
        found = find_config()
        if found is None:
            return Config()
        path = found
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict) or "condiag" not in tool:
            raise ConfigError(f"{path}: has no [tool.condiag] table")
        return parse_config(tool["condiag"], path, f"{path.name} [tool.condiag]")
    return parse_config(data, path, path.name)


def entry_files(config: Config, entry: Entry, only=None) -> list[str]:
    """The files an entry's globs match (relative to the configuration's directory, sorted, each once).

    ``only``: restrict to these paths (the changed files pre-commit passes); an entry then matches a
    path when one of its globs, expanded, names the same file.
    """
    found = []
    for pattern in entry.patterns:
        full = pattern if os.path.isabs(pattern) else str(config.base / pattern)
        found += sorted(glob.glob(full, recursive=True))
    files = [f for f in dict.fromkeys(os.path.relpath(f) for f in found) if os.path.isfile(f)]
    if only is not None:
        wanted = {os.path.realpath(p) for p in only}
        files = [f for f in files if os.path.realpath(f) in wanted]
    return files
