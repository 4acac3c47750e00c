"""Adding ``[sources.<id>]`` tables to a settings file, keeping the rest of it as written.

``finews sources add`` and ``finews sources import opml`` append tables to the end of
``finews.toml``: the existing text (comments, order, formatting) is kept byte for byte,
which a TOML library rewriting the whole document would not do. Each value is written by
:func:`toml_value` (TOML's own escapes for strings), and the new document is parsed back with
``tomllib`` and compared with what was meant before anything is replaced, so a wrong file
can never be written. The write is atomic: a temporary file in the same folder, flushed to
disk, then renamed over the old one (its permissions kept).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from finews.errors import ConfigError

__all__ = ["SOURCE_ID", "append_sources", "render_sources", "toml_value"]

#: what a new source id may look like (it is also part of FINEWS_SOURCE_<ID>_* names)
SOURCE_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")

Value = str | bool | int | float

# TOML basic strings must escape ", \ and every control character but tab.
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}


def toml_value(value: Value | Sequence[Value]) -> str:
    """``value`` as a TOML value: a basic string, a boolean, an integer, a float or an array
    of these. The one writer of TOML values (``finews sources add`` and ``finews config``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no TOML form finews accepts")
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    out = []
    for char in str(value):
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif (ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def render_sources(tables: Mapping[str, Mapping[str, Value]]) -> str:
    """The TOML text of ``[sources.<id>]`` tables, one blank line before each."""
    blocks = []
    for sid, table in tables.items():
        if not SOURCE_ID.fullmatch(sid):
            raise ConfigError(
                "source id", sid, "lower-case letters, digits and _, starting with a letter"
            )
        lines = [f"[sources.{sid}]"]
        lines.extend(f"{key} = {toml_value(value)}" for key, value in table.items())
        blocks.append("\n".join(lines) + "\n")
    return "".join("\n" + block for block in blocks)


def append_sources(
    path: Path,
    tables: Mapping[str, Mapping[str, Value]],
    *,
    validate: Callable[[Path], None] | None = None,
) -> str:
    """Append ``tables`` to the settings file at ``path`` (created if missing) and return
    the text added. ``validate`` is called with the finished temporary file before it
    replaces ``path`` (e.g. to load it as finews would); its exception aborts the change.
    :class:`ConfigError` when an id is taken or the result would not read back as meant.
    """
    try:
        old = path.read_text(encoding="utf-8") if path.exists() else ""
    except UnicodeDecodeError as exc:
        raise ConfigError("(file)", str(path), "not UTF-8 text; save the file as UTF-8") from exc
    existing = _parse(old, path)
    taken = existing.get("sources", {})
    for sid in tables:
        if isinstance(taken, dict) and sid in taken:
            raise ConfigError(f"sources.{sid}", sid, "that source id is already in the file")
    added = render_sources(tables)
    if not old.strip():
        added = added.lstrip("\n")
    separator = "" if not old or old.endswith("\n") else "\n"
    new = old + separator + added
    _check(_parse(new, path), tables, path)
    _write_atomically(path, new, validate)
    return added


def _parse(text: str, path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("(file)", str(path), f"not valid TOML: {exc}", str(path)) from exc


def _check(
    data: Mapping[str, object], tables: Mapping[str, Mapping[str, Value]], path: Path
) -> None:
    sources = data.get("sources")
    for sid, table in tables.items():
        got = sources.get(sid) if isinstance(sources, dict) else None
        if got != dict(table):
            raise ConfigError(
                f"sources.{sid}", got, f"expected {dict(table)!r} after writing", str(path)
            )


def _write_atomically(path: Path, text: str, validate: Callable[[Path], None] | None) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        if validate is not None:
            validate(temp)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
