"""The one object that writes finews's output files: :class:`Writer`.

The static build, the Jekyll export and the OPML export write every file through a
:class:`Writer` over their output folder (as pelican's ``Writer`` is the one place its
generators write through). What it guarantees, whoever calls it:

- **Never half a file.** A file is written to a temporary file beside it
  (``.<name>.<8 random>.tmp``) and renamed over the old one, so a reader (a web server, a
  Jekyll build) sees the old bytes or the new, never part of them; :meth:`Writer.sweep`
  removes what a killed earlier run left. With ``fresh=True`` (a new staging folder no
  reader sees, moved into place once complete) files are written where they go.
- **Only what changed.** A file already holding exactly the new bytes is left alone (its
  modification time too): re-running an export or an incremental build is cheap, and
  ``git status`` or rsync stays quiet.
- **Once per run.** Writing one path twice is a bug in the caller (two items mapped to one
  file) and raises :class:`~finews.errors.ExportError`, unless the caller says it replaces
  its own earlier output (``replace=True``).
- **Inside the folder.** A path is relative, without ``.``, ``..`` or empty parts.
- **Durable when asked.** ``durable=True`` (the default) ``fsync``\\ s each file and its
  folder before it counts as written. A build of thousands of files passes
  ``durable=False`` (an ``fsync`` costs milliseconds) and calls :meth:`Writer.sync` once,
  before the file that says the rest is complete (the static build's manifest).

Every ``OSError`` becomes an ``ExportError`` naming the file.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from finews.errors import ExportError

__all__ = ["Writer"]

_NEW_FILE_MODE = 0o644
# What tempfile.mkstemp(prefix=".<name>.", suffix=".tmp") makes.
_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


class Writer:
    """Writes files under ``root`` (see the module docstring).

    ``fresh``: ``root`` is a new folder nobody reads yet (a build's staging folder): files
    are written in place, without a temporary file or a comparison."""

    def __init__(
        self,
        root: Path | str,
        *,
        durable: bool = True,
        fresh: bool = False,
    ) -> None:
        self.root = Path(root)
        self.durable = durable
        self.fresh = fresh
        self._base = str(self.root)
        # relative path -> whether a write this run changed the file on disk
        self._outcome: dict[str, bool] = {}
        self._dirs: set[str] = set()
        self._removed: list[str] = []

    # --- what this run did -----------------------------------------------------------------
    @property
    def written(self) -> int:
        """How many files this run created or changed."""
        return sum(self._outcome.values())

    @property
    def unchanged(self) -> int:
        """How many files this run found already holding the bytes it would write."""
        return len(self._outcome) - self.written

    @property
    def results(self) -> Mapping[str, bool]:
        """Every path this run wrote, relative to the root, in the order first written,
        and whether the file changed."""
        return MappingProxyType(self._outcome)

    @property
    def removed(self) -> list[str]:
        """The paths this run deleted (:meth:`remove`), in order."""
        return list(self._removed)

    def wrote(self, relpath: str | PurePosixPath) -> bool:
        """Whether this run has written (or found up to date) ``relpath``."""
        return _relative(relpath) in self._outcome

    def path(self, relpath: str | PurePosixPath) -> Path:
        """The absolute path of ``relpath`` under the root (checked to stay inside it)."""
        return self.root.joinpath(*_relative(relpath).split("/"))

    # --- writing ---------------------------------------------------------------------------
    def write(self, relpath: str | PurePosixPath, data: bytes, *, replace: bool = False) -> bool:
        """Write ``data`` to ``relpath``; return whether the file changed.

        ``replace=True`` allows overwriting a file this run already wrote (the caller
        found a newer version of the same output); otherwise that raises ``ExportError``.
        """
        rel = _relative(relpath)
        earlier = self._outcome.get(rel)
        if earlier is not None and not replace:
            raise ExportError(f"{rel} was already written in this run; refusing to overwrite it")
        target = f"{self._base}/{rel}"
        try:
            changed = self._write(rel, target, data)
        except OSError as exc:
            raise ExportError(f"cannot write {target}: {exc}") from exc
        self._outcome[rel] = changed or bool(earlier)
        return changed

    def _write(self, rel: str, target: str, data: bytes) -> bool:
        if self.fresh:  # nothing there to compare with, and no reader
            self._mkdir(rel)
            _put(target, data, durable=self.durable)
            return True
        try:
            found: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            found = None
        if found is not None and found.st_size == len(data) and _read(target) == data:
            return False
        self._mkdir(rel)
        mode = stat.S_IMODE(found.st_mode) if found is not None else _NEW_FILE_MODE
        _replace_atomically(target, data, mode, durable=self.durable)
        return True

    def remove(self, relpath: str | PurePosixPath) -> bool:
        """Delete a file that is no longer part of the output; return whether it was there."""
        rel = _relative(relpath)
        try:
            os.unlink(f"{self._base}/{rel}")
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ExportError(f"cannot remove {self._base}/{rel}: {exc}") from exc
        self._removed.append(rel)
        return True

    def sweep(self, reldir: str | PurePosixPath) -> int:
        """Remove temporary files a killed earlier run left in ``reldir``; return how many.

        Only names this writer makes (``.<file>.<8 random>.tmp``) are touched. Call it
        before writing, and only while no other writer works on the same directory.
        """
        directory = self.path(reldir)
        try:
            names = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return 0
        swept = 0
        for name in names:
            if _TEMP_NAME.fullmatch(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(directory / name)
                    swept += 1
        return swept

    @staticmethod
    def sync() -> None:
        """Every file written so far on disk (for ``durable=False``): one ``os.sync()``."""
        os.sync()

    # --- helpers ---------------------------------------------------------------------------
    def _mkdir(self, rel: str) -> None:
        """Make the folder of file ``rel`` (once per run; strings, not Paths: cheaper)."""
        folder = rel.rpartition("/")[0]
        if folder not in self._dirs:
            os.makedirs(f"{self._base}/{folder}" if folder else self._base, exist_ok=True)
            self._dirs.add(folder)


def _relative(relpath: str | PurePosixPath) -> str:
    """``relpath`` as a plain relative path (``a/b.html``), or ``ExportError``."""
    rel = str(relpath)
    if rel.startswith("/") or any(part in ("", ".", "..") for part in rel.split("/")):
        raise ExportError(f"not a plain relative path inside the output: {rel!r}")
    return rel


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _put(target: str, data: bytes, *, durable: bool) -> None:
    """Write a new file where no one reads (a fresh staging folder)."""
    with open(target, "wb") as handle:
        handle.write(data)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())


def _replace_atomically(target: str, data: bytes, mode: int, *, durable: bool) -> None:
    folder, _, name = target.rpartition("/")
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            os.fchmod(tmp.fileno(), mode)
            if durable:
                tmp.flush()
                os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    if durable:
        _fsync_dir(folder)


def _fsync_dir(directory: str) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
