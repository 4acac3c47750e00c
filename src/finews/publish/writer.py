"""The one object that writes publisher output to disk, atomically and at most once.

:class:`AtomicWriter` writes each file through a temporary file in the same directory,
``fsync`` and ``os.replace``, so a reader (a web server, a Jekyll build) sees the old file
or the new one, never half of one. A file that already holds exactly the new bytes is
left alone (its modification time too), which makes re-running an export cheap and keeps
``git status`` quiet. Writing the same path twice in one run is a bug in the caller (two
items mapped to one file) and raises :class:`~finews.errors.ExportError`, unless the
caller says it is replacing its own earlier output on purpose. :meth:`AtomicWriter.sweep`
removes the temporary files of a run that was killed half way.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from finews.errors import ExportError

__all__ = ["AtomicWriter"]

_NEW_FILE_MODE = 0o644
# What tempfile.mkstemp(prefix=".<name>.", suffix=".tmp") makes.
_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


class AtomicWriter:
    """Writes files under ``root``; counts what it wrote and what was already up to date."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        # relative path -> whether a write this run changed the file on disk
        self._outcome: dict[PurePosixPath, bool] = {}

    @property
    def written(self) -> int:
        """How many files this run created or changed."""
        return sum(self._outcome.values())

    @property
    def unchanged(self) -> int:
        """How many files this run found already holding the bytes it would write."""
        return len(self._outcome) - self.written

    @property
    def results(self) -> Mapping[PurePosixPath, bool]:
        """Every path this run wrote, relative to the root, and whether the file changed."""
        return MappingProxyType(self._outcome)

    def wrote(self, relpath: str | PurePosixPath) -> bool:
        """Whether this run has written (or found up to date) ``relpath``."""
        return self._relative(relpath) in self._outcome

    def path(self, relpath: str | PurePosixPath) -> Path:
        """The absolute path of ``relpath`` under the root (checked to stay inside it)."""
        return self.root.joinpath(*self._relative(relpath).parts)

    def write(self, relpath: str | PurePosixPath, data: bytes, *, replace: bool = False) -> bool:
        """Write ``data`` to ``relpath``; return whether the file changed.

        ``replace=True`` allows overwriting a file this run already wrote (the caller
        found a newer version of the same output); otherwise that raises ``ExportError``.
        """
        rel = self._relative(relpath)
        earlier = self._outcome.get(rel)
        if earlier is not None and not replace:
            raise ExportError(f"{rel} was already written in this run; refusing to overwrite it")
        target = self.path(rel)
        try:
            changed = not _holds(target, data)
            if changed:
                _replace_atomically(target, data)
        except OSError as exc:
            raise ExportError(f"cannot write {target}: {exc}") from exc
        self._outcome[rel] = changed or bool(earlier)
        return changed

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
    def _relative(relpath: str | PurePosixPath) -> PurePosixPath:
        rel = PurePosixPath(relpath)
        if rel.is_absolute() or not rel.parts or any(p in ("..", ".", "") for p in rel.parts):
            raise ExportError(f"not a plain relative path inside the output: {str(relpath)!r}")
        return rel


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a file whose content is exactly ``data``."""
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def _replace_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = _NEW_FILE_MODE
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fchmod(tmp.fileno(), mode)
            os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
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
