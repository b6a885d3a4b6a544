"""Models on disk: plain arrays in an NPZ file, everything else in a JSON header; loading runs no code.

The one convention of every saved model (forward ridge and compact models, inverse networks,
measured-spectrum model folders):

* arrays: ``np.savez`` of named numeric arrays (weights, scaler means, PCA components, energy
  grid in eV, ...); object arrays are refused on writing, and reading uses
  ``np.load(allow_pickle=False)``, so a file holding a pickled object is refused too;
* header: a JSON object with at least ``format`` (and, where the format has one,
  ``format_version``), the estimator's parameters and provenance (``amorphxas_version``,
  training-set hash, ...);
* writing is atomic per file (:func:`amorphxas.core.files.atomic_open`): a failed or killed write
  leaves the previous file or none, never a truncated one.

The file names are the caller's: each model keeps the layout it has always had (``<stem>.npz`` +
``<stem>.json`` for forward models, ``<folder>/model.{npz,json}`` for inverse networks), so files
written before load unchanged. Errors are one line naming the file, raised as the caller's
``error`` class (an :class:`~amorphxas.core.errors.AmorphxasError`).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.files import atomic_open, write_text_atomic


def model_stem(path: str | Path, folder: bool = True) -> Path:
    """``<stem>`` of a ``<stem>.npz`` + ``<stem>.json`` pair: a ``.npz`` or ``.json`` suffix is
    dropped; with ``folder`` (for reading), an existing folder means ``<folder>/model``."""
    path = Path(path)
    if folder and path.is_dir():
        path = path / "model"
    return path.with_suffix("") if path.suffix in (".npz", ".json") else path


def stem_files(stem: str | Path, folder: bool = True) -> tuple[Path, Path]:
    """(``<stem>.npz``, ``<stem>.json``) of :func:`model_stem` ``(stem, folder)``."""
    stem = model_stem(stem, folder)
    return stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")


def write_arrays(path: str | Path, arrays: dict, *,
                 error: type[AmorphxasError] = AmorphxasError) -> Path:
    """Write ``arrays`` {name: array} to the NPZ file ``path`` (exactly that name), atomically.

    An object array (which would need pickle to read back) is refused before anything is written.
    """
    path = Path(path)
    out = {}
    for name, value in arrays.items():
        value = np.asarray(value)
        if value.dtype.kind == "O":
            raise error(f"{path}: array {name!r} holds Python objects; models store numbers only")
        out[name] = value
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **out)
    return path


def _header_text(header: dict, sort_keys: bool, default) -> str:
    return json.dumps(header, indent=1, sort_keys=sort_keys, default=default)


def write_header(path: str | Path, header: dict, *, sort_keys: bool = False,
                 default=None) -> Path:
    """Write the JSON header ``header`` to ``path`` (indent 1), atomically. ``default``: as for
    ``json.dumps`` (e.g. ``float`` for numpy scalars)."""
    return write_text_atomic(path, _header_text(header, sort_keys, default))


def save_npz_json(npz: str | Path, js: str | Path, arrays: dict, header: dict, *,
                  sort_keys: bool = False, default=None,
                  error: type[AmorphxasError] = AmorphxasError) -> tuple[Path, Path]:
    """Write the arrays to ``npz`` and the header to ``js``; returns (npz, json) paths. The
    folder is created if missing. The header is serialised first, so a header JSON cannot hold
    (TypeError) or an object array leaves both files as they were."""
    npz, js = Path(npz), Path(js)
    text = _header_text(header, sort_keys, default)
    npz.parent.mkdir(parents=True, exist_ok=True)
    write_arrays(npz, arrays, error=error)
    write_text_atomic(js, text)
    return npz, js


def read_header(path: str | Path, *, what: str = "model header",
                error: type[AmorphxasError] = AmorphxasError) -> dict:
    """The JSON object in ``path``; unreadable, not JSON or not an object: one-line ``error``."""
    path = Path(path)
    try:
        header = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise error(f"{path}: cannot read the {what} (not valid JSON: {exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise error(f"{path}: cannot read the {what} ({reason})") from None
    if not isinstance(header, dict):
        raise error(f"{path}: cannot read the {what} (a JSON {type(header).__name__}, not an object)")
    return header


def check_format(header: dict, path: str | Path, fmt: str, *, versions: Iterable[int] | None = None,
                 what: str = "model", error: type[AmorphxasError] = AmorphxasError) -> None:
    """Refuse (one line) a header whose ``format`` is not ``fmt`` or whose ``format_version`` is
    not one of ``versions`` (when given)."""
    found = header.get("format")
    versions = None if versions is None else tuple(versions)
    if found != fmt or (versions is not None and header.get("format_version") not in versions):
        expected = fmt if versions is None else f"{fmt} version {' or '.join(map(str, versions))}"
        got = repr(found) if versions is None else f"{found!r} version {header.get('format_version')!r}"
        raise error(f"{path}: not an amorphxas {what} (format {got}; expected {expected})")


def read_arrays(path: str | Path, *, what: str = "model arrays", finite: bool = False,
                error: type[AmorphxasError] = AmorphxasError) -> dict[str, np.ndarray]:
    """{name: array} of the NPZ file ``path``, read with ``allow_pickle=False`` (a pickled object
    array is refused). ``finite``: refuse NaN/inf in any float array (a corrupt model)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.array(data[k]) for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"{path}: cannot read the {what} ({reason})") from None
    if finite:
        bad = [k for k, a in arrays.items() if a.dtype.kind == "f" and not np.all(np.isfinite(a))]
        if bad:
            raise error(f"{path}: non-finite values in {bad[0]} ({len(bad)} array(s)); the model "
                        "is corrupt, retrain it")
    return arrays


class ArrayState:
    """Mixin for a fitted scikit-learn estimator whose state is plain arrays and scalars.

    A subclass names its fitted attributes: ``_ARRAYS`` (stored as float64 arrays under the name
    without the trailing underscore), ``_SCALARS`` (ints or floats in the JSON header) and
    ``_TUPLE_PARAMS`` (constructor parameters that are tuples; JSON gives lists back).
    :meth:`to_arrays` / :meth:`from_arrays` then rebuild the estimator without pickle, so that a
    model saved with :func:`save_npz_json` predicts bit-identically after loading.
    """

    _ARRAYS: tuple[str, ...] = ()
    _SCALARS: tuple[str, ...] = ()
    _TUPLE_PARAMS: tuple[str, ...] = ()

    def to_arrays(self) -> tuple[dict, dict]:
        """(arrays {name: float64 array}, JSON-able header {"params": ..., scalars...})."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "coef_")
        arrays = {k.rstrip("_"): np.asarray(getattr(self, k), np.float64) for k in self._ARRAYS}
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        header: dict = {"params": params}
        for k in self._SCALARS:
            val = getattr(self, k)
            header[k] = int(val) if isinstance(val, (int, np.integer)) else float(val)
        return arrays, header

    @classmethod
    def from_arrays(cls, arrays: dict, header: dict):
        """The fitted estimator of :meth:`to_arrays`' output."""
        params = dict(header["params"])
        for k in cls._TUPLE_PARAMS:
            if isinstance(params.get(k), list):
                params[k] = tuple(params[k])
        est = cls(**params)
        for k in cls._ARRAYS:
            setattr(est, k, np.asarray(arrays[k.rstrip("_")], np.float64))
        for k in cls._SCALARS:
            setattr(est, k, header[k])
        return est
