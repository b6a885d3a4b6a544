"""The one on-disk dataset format: an HDF5 file, written by atomic whole-file replacement.

Layout (schema version in the root attribute ``schema_version``)::

    /structures/<cell_id>      numbers (n,), positions (n,3) Angstrom, cell (3,3) Angstrom, pbc (3,)
                               attrs: provenance (JSON), composition_x, n_atoms
    /sites/<cell_id>           atom_index (n_si,), valence (n_si,), motif (n_si,) str,
                               rdf (n_si, 256), rdf_r (256,) Angstrom, bader_charge (n_si,) e (NaN if absent)
    /spectra/energy            (n_energy,) eV, the common grid
    /spectra/intensity         (n_spec, n_energy) broadened, aligned, not normalised (xspectra units)
    /spectra/edge_energy       (n_spec,) eV
    /spectra/cell_id, atom_index   (n_spec,) keys of each row
    /spectra/fidelity          (n_spec,) str, the protocol of each row ("v4", "gamma", ...; optional:
                               rows of files without it take the fidelity of the settings attribute,
                               see amorphxas.dataset.fidelity)
    /spectra/raw/<cell_id>:<atom_index>   energy (m,) eV aligned, sigma (3, m) per polarisation x,y,z
                               computed with a small xspectra Lorentzian; attrs: per-site energies, timings
    /references/<name>         energy (n,), intensity (n,) eV / arbitrary; raw/ as above
    /failures/<cell_id>:<atom_index>   attrs: error, log, attempts

Why whole-file replacement: HDF5 is not journaled, so a process killed inside an h5py write
can corrupt the file. Each transaction copies the file, edits the copy and ``os.replace``-s it,
so a reader (or a restarted campaign) always sees either the old or the new complete file.
The cost (a copy of a few tens of MB per site) is negligible next to minutes of DFT per site.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from amorphxas.core.errors import DatasetError
from amorphxas.core.files import OutputPathError, atomic_path

SCHEMA_VERSION = 1
RDF_BINS = 256
REQUIRED_GROUPS = ("structures", "sites", "spectra", "references")


def _package_version() -> str:
    from amorphxas import __version__

    return __version__


def create(path: str | Path, energy_grid: np.ndarray, attrs: dict[str, Any] | None = None) -> Path:
    """Create an empty dataset at ``path`` with the common energy grid (eV, shape (n_energy,))."""
    path = Path(path)
    if path.exists():
        raise DatasetError(f"{path}: already exists; refusing to overwrite a dataset")
    energy_grid = np.asarray(energy_grid, dtype=float)
    if energy_grid.ndim != 1 or not np.all(np.diff(energy_grid) > 0):
        raise DatasetError("energy grid must be a 1-D strictly increasing array (eV)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".creating")
    with h5py.File(tmp, "w") as h5:
        h5.attrs["schema_version"] = SCHEMA_VERSION
        h5.attrs["amorphxas_version"] = _package_version()
        h5.attrs["format"] = "amorphxas dataset"
        for key, value in (attrs or {}).items():
            h5.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value
        for group in REQUIRED_GROUPS:
            h5.create_group(group)
        spectra = h5["spectra"]
        spectra.create_dataset("energy", data=energy_grid)
        spectra.create_dataset(
            "intensity", shape=(0, energy_grid.size), maxshape=(None, energy_grid.size), dtype="f8"
        )
        spectra.create_dataset("edge_energy", shape=(0,), maxshape=(None,), dtype="f8")
        spectra.create_dataset("atom_index", shape=(0,), maxshape=(None,), dtype="i8")
        spectra.create_dataset(
            "cell_id", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype()
        )
        spectra.create_group("raw")
        h5.create_group("failures")
    os.replace(tmp, path)
    return path


def fork(source: str | Path, path: str | Path) -> Path:
    """A new dataset at ``path`` for a new DFT protocol: the cells and per-site tables (valence,
    motif, RDF, Bader charges: none depends on the spectrum protocol) of ``source``, with no
    spectra, references or failures."""
    validate(source)
    with h5py.File(source, "r") as old:
        create(path, old["spectra/energy"][()])
        with transaction(path) as new:
            for group in ("structures", "sites"):
                for cell_id in old[group]:
                    old.copy(old[group][cell_id], new[group], name=cell_id)
    return Path(path)


def validate(path: str | Path) -> None:
    """Raise :class:`DatasetError` with one line if ``path`` is not a valid dataset of this schema."""
    with open_valid(path):
        pass


@contextmanager
def open_valid(path: str | Path) -> Iterator[h5py.File]:
    """The dataset at ``path`` opened read-only and checked (:func:`check_open`) in one open."""
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"{path}: is a directory, not a dataset file")
    if not path.is_file():
        raise DatasetError(f"{path}: dataset file not found")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable HDF5 file ({exc})") from None
    with h5:
        check_open(h5, path)
        yield h5


def check_open(h5: h5py.File, path: str | Path) -> None:
    """Raise :class:`DatasetError` (one line naming ``path``) if the open file ``h5`` is not a
    dataset of this schema: version, required groups, row-aligned ``/spectra`` tables."""
    version = h5.attrs.get("schema_version")
    if version is None:
        raise DatasetError(f"{path}: no schema_version attribute; not an amorphxas dataset")
    if int(version) != SCHEMA_VERSION:
        raise DatasetError(
            f"{path}: schema version {int(version)}, this amorphxas reads {SCHEMA_VERSION}"
        )
    for group in REQUIRED_GROUPS:
        if group not in h5:
            raise DatasetError(f"{path}: missing group /{group}")
    spectra = h5["spectra"]
    for name in ("energy", "intensity", "edge_energy", "atom_index", "cell_id"):
        if name not in spectra:
            raise DatasetError(f"{path}: missing dataset /spectra/{name}")
    n = spectra["intensity"].shape[0]
    for name in ("edge_energy", "atom_index", "cell_id"):
        if spectra[name].shape[0] != n:
            raise DatasetError(f"{path}: /spectra/{name} has {spectra[name].shape[0]} rows, "
                               f"/spectra/intensity has {n}")
    if "fidelity" in spectra and spectra["fidelity"].shape[0] != n:
        raise DatasetError(f"{path}: /spectra/fidelity has {spectra['fidelity'].shape[0]} "
                           f"rows, /spectra/intensity has {n}")
    if spectra["intensity"].shape[1] != spectra["energy"].shape[0]:
        raise DatasetError(f"{path}: /spectra/intensity columns do not match /spectra/energy")
    for cell_id in h5["sites"]:
        if cell_id not in h5["structures"]:
            raise DatasetError(f"{path}: /sites/{cell_id} has no structure")


@contextmanager
def transaction(path: str | Path) -> Iterator[h5py.File]:
    """Open a writable copy of the dataset; on clean exit it atomically replaces the original.

    On an exception (or a kill) the original file is untouched and the copy is removed.
    """
    path = Path(path)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        # one writer at a time: two processes copying and replacing would lose an update
        fcntl.flock(lock, fcntl.LOCK_EX)
        with _replace_atomically(path) as h5:
            yield h5


@contextmanager
def _replace_atomically(path: Path) -> Iterator[h5py.File]:
    validate(path)
    try:
        with atomic_path(path) as tmp:
            shutil.copyfile(path, tmp)
            with h5py.File(tmp, "a") as h5:
                yield h5
                h5.attrs["amorphxas_version"] = _package_version()
    except OutputPathError as exc:
        raise DatasetError(f"could not write dataset: {exc}") from None
    except OSError as exc:
        raise DatasetError(f"{path}: could not write dataset ({exc.strerror or exc})") from None


def site_key(cell_id: str, atom_index: int) -> str:
    """The key of one site: ``<cell_id>:<atom_index>``."""
    return f"{cell_id}:{int(atom_index)}"


def _write_json_attrs(group: h5py.Group, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        if isinstance(value, (dict, list, tuple)):
            group.attrs[key] = json.dumps(value)
        elif value is None:
            group.attrs[key] = "null"
        else:
            group.attrs[key] = value


def add_structure(h5: h5py.File, cell_id: str, numbers: np.ndarray, positions: np.ndarray,
                  cell: np.ndarray, pbc: np.ndarray, attrs: dict[str, Any]) -> None:
    """Add one cell under ``/structures/<cell_id>`` (inside a :func:`transaction`)."""
    if cell_id in h5["structures"]:
        raise DatasetError(f"structure {cell_id!r} already in the dataset")
    group = h5["structures"].create_group(cell_id)
    group.create_dataset("numbers", data=np.asarray(numbers, dtype="i4"))
    group.create_dataset("positions", data=np.asarray(positions, dtype="f8"))
    group.create_dataset("cell", data=np.asarray(cell, dtype="f8"))
    group.create_dataset("pbc", data=np.asarray(pbc, dtype=bool))
    _write_json_attrs(group, attrs)


def put_sites(h5: h5py.File, cell_id: str, table: dict[str, np.ndarray]) -> None:
    """Write (or replace) the per-site table of one cell under ``/sites/<cell_id>``.

    ``table`` holds arrays of equal length n_si: atom_index, valence, motif, rdf (n_si, 256),
    rdf_r (256,), bader_charge (NaN where not computed).
    """
    if cell_id not in h5["structures"]:
        raise DatasetError(f"sites for unknown structure {cell_id!r}")
    if cell_id in h5["sites"]:
        del h5["sites"][cell_id]
    group = h5["sites"].create_group(cell_id)
    for key, value in table.items():
        value = np.asarray(value)
        if value.dtype.kind in "US":
            group.create_dataset(key, data=value.astype(object), dtype=h5py.string_dtype())
        else:
            group.create_dataset(key, data=value)


def add_spectrum(h5: h5py.File, cell_id: str, atom_index: int, intensity: np.ndarray,
                 edge_energy: float, raw_energy: np.ndarray, raw_sigma: np.ndarray,
                 attrs: dict[str, Any], raw_extra: dict[str, np.ndarray] | None = None,
                 fidelity: str | None = None) -> None:
    """Append one site spectrum (a row of /spectra/intensity plus its raw data; ``raw_extra``:
    further raw arrays, e.g. the Lanczos chains, stored gzip-compressed beside it).

    ``fidelity``: the protocol label of the row ("v4", "gamma", "gamma-corrected", ...); default
    the fidelity of the dataset's settings. A "v4" row must hold chains on the 4 fcc k-points."""
    from amorphxas.dataset.fidelity import UNKNOWN, check_fidelity, settings_fidelity, stored_fidelity

    key = site_key(cell_id, atom_index)
    spectra = h5["spectra"]
    if key in spectra["raw"]:
        raise DatasetError(f"spectrum {key} already in the dataset")
    intensity = np.asarray(intensity, dtype=float)
    if intensity.shape != spectra["energy"].shape or not np.all(np.isfinite(intensity)):
        raise DatasetError(f"spectrum {key}: intensity must be finite with shape "
                           f"{spectra['energy'].shape}")
    labels = stored_fidelity(spectra)  # the existing rows, before this one is appended
    derived = settings_fidelity(spectra)
    label = fidelity if fidelity is not None else derived
    if label != UNKNOWN:
        check_fidelity(key, label, raw_extra)
    n = spectra["intensity"].shape[0]
    if "fidelity" not in spectra and fidelity is not None:
        # the first labelled row: existing rows keep the fidelity their settings give them now
        spectra.create_dataset("fidelity", data=np.array(
            [v if v != UNKNOWN else "" for v in labels], dtype=object), maxshape=(None,),
            dtype=h5py.string_dtype())
    names = ["intensity", "edge_energy", "atom_index", "cell_id"]
    names += ["fidelity"] if "fidelity" in spectra else []
    for name in names:
        spectra[name].resize(n + 1, axis=0)
    spectra["intensity"][n] = intensity
    spectra["edge_energy"][n] = float(edge_energy)
    spectra["atom_index"][n] = int(atom_index)
    spectra["cell_id"][n] = cell_id
    if "fidelity" in spectra:
        spectra["fidelity"][n] = label if label != UNKNOWN else ""
    raw = _put_raw(spectra["raw"].create_group(key), raw_energy, raw_sigma, raw_extra)
    _write_json_attrs(raw, {**attrs, **({"fidelity": label} if label != UNKNOWN else {})})
    failures = h5["failures"]
    if key in failures:
        del failures[key]


def _put_raw(raw: h5py.Group, energy: np.ndarray, sigma: np.ndarray,
             extra: dict[str, np.ndarray] | None) -> h5py.Group:
    """Raw data of a spectrum: ``energy`` (eV), ``sigma`` (n_pol, m), further arrays gzipped."""
    raw.create_dataset("energy", data=np.asarray(energy, dtype=float))
    raw.create_dataset("sigma", data=np.asarray(sigma, dtype=float))
    for name, value in (extra or {}).items():
        raw.create_dataset(name, data=np.asarray(value), compression="gzip")
    return raw


def put_reference(h5: h5py.File, name: str, energy: np.ndarray, intensity: np.ndarray,
                  raw_energy: np.ndarray, raw_sigma: np.ndarray, attrs: dict[str, Any],
                  raw_extra: dict[str, np.ndarray] | None = None) -> None:
    """Write (or replace) a crystal reference spectrum under ``/references/<name>``."""
    refs = h5["references"]
    if name in refs:
        del refs[name]
    group = refs.create_group(name)
    group.create_dataset("energy", data=np.asarray(energy, dtype=float))
    group.create_dataset("intensity", data=np.asarray(intensity, dtype=float))
    _put_raw(group.create_group("raw"), raw_energy, raw_sigma, raw_extra)
    _write_json_attrs(group, attrs)


def record_failure(h5: h5py.File, cell_id: str, atom_index: int, error: str, log: str) -> int:
    """Record a failed site; returns the number of attempts so far."""
    key = site_key(cell_id, atom_index)
    failures = h5["failures"]
    attempts = 1
    if key in failures:
        attempts = int(failures[key].attrs.get("attempts", 0)) + 1
        del failures[key]
    group = failures.create_group(key)
    group.attrs["error"] = error
    group.attrs["log"] = log
    group.attrs["attempts"] = attempts
    return attempts


def done_keys(path: str | Path) -> set[str]:
    """Keys ``<cell_id>:<atom_index>`` of the sites that already have a spectrum."""
    with h5py.File(path, "r") as h5:
        return set(h5["spectra/raw"].keys())


def failure_attempts(path: str | Path) -> dict[str, int]:
    """Number of failed attempts per site key."""
    with h5py.File(path, "r") as h5:
        return {key: int(group.attrs.get("attempts", 1)) for key, group in h5["failures"].items()}
