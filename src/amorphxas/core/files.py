"""Output paths: checked before any long work starts, written all-or-nothing.

Every command that writes a file or a folder goes through two steps:

1. :func:`check_output_file` / :func:`check_output_dir` before the work (DFT, training, MD,
   descriptors): a directory where a file is wanted, a missing folder, a read-only location,
   a device such as ``/dev/full`` or an existing file that must not be overwritten is a one-line
   :class:`OutputPathError` naming the path and the reason, in well under a second;
2. :func:`atomic_path` (or :func:`atomic_open`) for the write itself: the data go to a
   temporary file in the same folder, which replaces the target with ``os.replace`` only when
   complete (fsync-ed). An error or a kill leaves the old file (or no file), never a zero-byte
   or truncated one, and the file written is exactly the path given (no appended extension).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from amorphxas.core.errors import AmorphxasError


class OutputPathError(AmorphxasError):
    """An output path cannot be written (the message names the path and the OS reason)."""


def _reason(exc: OSError) -> str:
    return exc.strerror or (errno.errorcode.get(exc.errno or 0, "") if exc.errno else "") or str(exc)


def _probe_folder(folder: Path, target: Path) -> None:
    """Create and remove a temporary file in ``folder``: the real test of writability (also for
    root, for whom permission bits do not apply, and for read-only mounts)."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise OutputPathError(f"{target}: cannot write in {folder} ({_reason(exc)})") from None
    os.close(fd)
    os.unlink(name)


def check_output_file(path: str | Path, suffixes: tuple[str, ...] | None = None,
                      overwrite: bool = True, what: str = "output file",
                      inputs: tuple[str | Path | None, ...] = ()) -> Path:
    """Check that ``path`` can be written as a regular file; return it as a :class:`Path`.

    Refused (one line naming the path): an existing directory; a device or other non-regular
    file (``/dev/full``); a missing folder or a folder that is a file; a folder we cannot create
    files in; an existing file when ``overwrite`` is False; a read-only existing file; a name
    whose suffix is not one of ``suffixes`` (e.g. ``(".extxyz", ".xyz")``), when given; one of
    the command's ``inputs`` (writing would destroy it).
    """
    path = Path(path)
    for source in inputs:
        if source is not None and Path(source).exists() and path.exists() \
                and os.path.samefile(source, path):
            raise OutputPathError(f"{path}: is also an input of this command; writing it would "
                                  "destroy the input")
    if path.is_dir():
        raise OutputPathError(f"{path}: is a directory; give a file name for the {what}")
    if path.exists() or path.is_symlink():
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise OutputPathError(f"{path}: cannot use as {what} ({_reason(exc)})") from None
        if not stat.S_ISREG(mode):
            raise OutputPathError(f"{path}: not a regular file (a device or pipe); give a file "
                                  f"name for the {what}")
        if not overwrite:
            raise OutputPathError(f"{path}: already exists; refusing to overwrite it")
        if not os.access(path, os.W_OK):
            raise OutputPathError(f"{path}: read-only file ({os.strerror(errno.EACCES)})")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise OutputPathError(f"{path}: the {what} must end in {' or '.join(suffixes)}")
    folder = path.parent
    if not folder.exists():
        raise OutputPathError(f"{path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputPathError(f"{path}: {folder} is not a folder")
    _probe_folder(folder, path)
    return path


def check_output_dir(path: str | Path, what: str = "output folder") -> Path:
    """Check that ``path`` is, or can be created as, a folder we can write files in.

    Missing parent folders are fine (they are created at write time, like ``mkdir -p``); refused:
    an existing file at ``path`` or at one of its parents, and a location we cannot write in.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{path}: is a file; the {what} must be a folder")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(f"{path}: {existing} is a file, not a folder")
    _probe_folder(existing, path)
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so writers that look at the suffix
    still work); on a clean exit it is fsync-ed and renamed to ``path``, on an exception
    removed. An :class:`OSError` of the write becomes an :class:`OutputPathError` naming ``path``.
    """
    path = Path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=folder)
        os.close(fd)
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot write ({_reason(exc)})") from None
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        if path.exists():  # keep the permissions of the file we replace
            with contextlib.suppress(OSError):
                os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputPathError(f"{path}: cannot write ({_reason(exc)})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs) -> Iterator[IO]:
    """``open`` for writing through :func:`atomic_path`: all or nothing, exactly ``path``."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_path`; returns ``Path(path)``."""
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return Path(path)


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on a clean exit every file written in it
    is fsync-ed and moved into ``path`` (created, with its parents, if missing) by ``os.replace``,
    one atomic rename per file, after all of them are complete. On an exception nothing in
    ``path`` changes and the temporary folder is removed. For model folders (model.npz,
    model.json, metrics.json) written by functions that take a folder."""
    import shutil

    path = Path(path)
    check_output_dir(path)
    existing = path
    while not existing.exists():
        existing = existing.parent
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=existing))
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot write ({_reason(exc)})") from None
    try:
        yield tmp
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        for file in files:
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
        for file in files:
            target = path / file.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(file, target)
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot write ({_reason(exc)})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
