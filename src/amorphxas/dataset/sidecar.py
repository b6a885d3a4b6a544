"""The descriptor sidecar: an HDF5 file of per-site descriptors beside a dataset (never inside it).

Name (one convention, :func:`sidecar_path`): ``<dataset stem>.<preset>.descriptors.h5`` next to
the dataset, or in ``$XDG_CACHE_HOME/amorphxas`` (default ``~/.cache/amorphxas``) for a dataset
inside the installed package. Files with the older name ``<dataset stem>.descriptors.h5``
(:func:`legacy_sidecar_path`) are still read (:func:`sidecar_candidates`).

Layout: one group per descriptor kind, ``/<kind>/X`` (n_site, n_features), ``/<kind>/cell_id``
(str), ``/<kind>/atom_index`` (int); attrs ``parameters`` (JSON), ``kind``, ``preset``,
``n_features``, ``dataset``, ``amorphxas_version`` and the cache keys ``parameters_sha256``,
``structures_sha256`` (:mod:`amorphxas.descriptors.cache`). A block is written under a temporary
name and renamed when complete (:func:`write_block`): an interrupted run leaves no partial block.
What the descriptors are is :mod:`amorphxas.descriptors`' business; this module only stores them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from amorphxas.core.errors import DatasetError
from amorphxas.dataset.text import as_text, as_texts

SUFFIX = ".descriptors.h5"


def cache_dir() -> Path:
    """Where sidecars of the datasets inside the package go: ``$XDG_CACHE_HOME/amorphxas``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "amorphxas"


def sidecar_name(dataset: str | os.PathLike, preset: str) -> str:
    """The file name of ``dataset``'s sidecar for the descriptor ``preset``:
    ``<stem>.<preset>.descriptors.h5`` (wherever it is kept)."""
    return f"{Path(dataset).stem}.{preset}{SUFFIX}"


def sidecar_path(dataset: str | os.PathLike, preset: str) -> Path:
    """The sidecar of ``dataset`` for the descriptor ``preset``: :func:`sidecar_name` next to it,
    or in :func:`cache_dir` for a dataset inside the installed package."""
    dataset = Path(dataset)
    name = sidecar_name(dataset, preset)
    package = Path(__file__).resolve().parent.parent
    if package in dataset.resolve().parents:
        return cache_dir() / name
    return dataset.with_name(name)


def legacy_sidecar_path(dataset: str | os.PathLike) -> Path:
    """The older default name, ``<stem>.descriptors.h5`` next to the dataset (still read)."""
    dataset = Path(dataset)
    return dataset.with_name(dataset.stem + SUFFIX)


def sidecar_candidates(dataset: str | os.PathLike, preset: str) -> list[Path]:
    """Sidecars to look in for ``dataset``'s ``preset`` descriptors, in order: the current name
    (always, existing or not), then, where such files exist, the current name next to a dataset
    inside the package and the older name ``<stem>.descriptors.h5``."""
    dataset = Path(dataset)
    out = [sidecar_path(dataset, preset)]
    for other in (dataset.with_name(out[0].name), legacy_sidecar_path(dataset)):
        if other.is_file() and all(other.resolve() != p.resolve() for p in out):
            out.append(other)
    return out


@dataclass
class DescriptorBlock:
    """One kind's descriptors: X (n_site, n_features), cell_id (n_site,) str, atom_index (n_site,)."""

    kind: str
    X: np.ndarray | None  # None when read with ``with_X=False``
    cell_id: np.ndarray
    atom_index: np.ndarray
    parameters: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)  # preset, n_features, parameters_sha256, ...


def read_block(path: str | os.PathLike, kind: str, with_X: bool = True) -> DescriptorBlock:
    """The ``kind`` block of the sidecar ``path`` (one-line :class:`DatasetError` if absent)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: descriptor file not found")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable HDF5 file ({exc})") from None
    with h5:
        if kind not in h5:
            raise DatasetError(f"{path}: no descriptors of kind {kind!r} (have: {', '.join(h5)})")
        group = h5[kind]
        attrs = {k: as_text(v) for k, v in group.attrs.items()}
        params = attrs.get("parameters")
        return DescriptorBlock(kind, group["X"][()] if with_X else None,
                               as_texts(group["cell_id"][()]), group["atom_index"][()],
                               json.loads(params) if params else {}, attrs)


def has_block(path: str | os.PathLike, kind: str) -> bool:
    """True if the sidecar ``path`` exists and holds a complete ``kind`` block."""
    path = Path(path)
    if not path.is_file():
        return False
    with h5py.File(path, "r") as h5:
        return kind in h5


class BlockWriter:
    """Appends rows to a block being written by :func:`write_block`."""

    def __init__(self, group: h5py.Group, dtype: str):
        self._x, self._c, self._i = group["X"], group["cell_id"], group["atom_index"]
        self._dtype = dtype

    def append(self, cell_id: str, atom_index: np.ndarray, X: np.ndarray) -> None:
        """Rows of one cell: its Si ``atom_index`` (m,) and descriptors ``X`` (m, n_features)."""
        n0, m = self._x.shape[0], X.shape[0]
        for ds in (self._x, self._c, self._i):
            ds.resize(n0 + m, axis=0)
        self._x[n0:] = X.astype(self._dtype)
        self._c[n0:] = np.array([cell_id] * m, dtype=object)
        self._i[n0:] = atom_index


@contextmanager
def write_block(path: str | os.PathLike, kind: str, n_features: int, attrs: dict,
                dataset: str | os.PathLike | None = None,
                dtype: str = "float32") -> Iterator[BlockWriter]:
    """Write the ``kind`` block of the sidecar ``path`` (other kinds in it are kept).

    Rows are appended through the yielded :class:`BlockWriter` into a temporary group, which
    replaces ``/<kind>`` on clean exit with ``attrs`` (str/number values; dicts as JSON). On an
    exception the temporary group is left for the next write to remove, and ``/<kind>`` is
    unchanged. ``dataset``: refuse to write into the dataset file itself."""
    path = Path(path)
    if dataset is not None and path.resolve() == Path(dataset).resolve():
        raise DatasetError(f"{path}: refusing to write descriptors into the dataset itself")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_name = f".{kind}.partial"
    with h5py.File(path, "a") as out:
        if tmp_name in out:
            del out[tmp_name]
        group = out.create_group(tmp_name)
        group.create_dataset("X", shape=(0, n_features), maxshape=(None, n_features), dtype=dtype,
                             chunks=(max(1, min(256, 2 ** 24 // (4 * n_features) or 1)), n_features))
        group.create_dataset("cell_id", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype())
        group.create_dataset("atom_index", shape=(0,), maxshape=(None,), dtype="i8")
        yield BlockWriter(group, dtype)
        for key, value in attrs.items():
            group.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value
        if kind in out:
            del out[kind]
        out.move(tmp_name, kind)
