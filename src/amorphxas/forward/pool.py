"""The pool a forward model learns from: every Si site of a dataset with its descriptors, the
normalised spectra of the computed sites and their fidelity, and the training/test splits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from amorphxas.core.splits import MIN_SITES_FORWARD
from amorphxas.forward.metrics import split_cell, split_random
from amorphxas.forward.ridge import ForwardError
from amorphxas.sites.analysis import MAX_VALENCE

#: fewest site spectra a training/evaluation run accepts (:data:`amorphxas.core.splits.MIN_SITES_FORWARD`)
MIN_SITES = MIN_SITES_FORWARD


@dataclass
class Pool:
    """Every Si site of a dataset (the active-learning candidates), with spectra where computed.

    ``Y`` holds the normalised spectra of the rows where ``has_spectrum`` (NaN elsewhere)."""

    X_raw: np.ndarray  # (n_pool, n_features) raw descriptors
    cell_id: np.ndarray
    atom_index: np.ndarray
    valence: np.ndarray
    has_spectrum: np.ndarray  # bool (n_pool,)
    Y: np.ndarray  # (n_pool, n_energy), normalised, NaN rows where not computed
    energy: np.ndarray
    scale: float  # intensities were divided by this
    normalisation: str
    descriptor: dict = field(default_factory=dict)
    dataset: str = ""
    #: (n_pool,) str: each spectrum's fidelity ("v4", "gamma", ...; "" where none); None = all
    #: rows of the dataset's own protocol
    fidelity: np.ndarray | None = None
    primary_fidelity: str = ""

    @property
    def n_spectra(self) -> int:
        return int(self.has_spectrum.sum())

    @property
    def is_primary(self) -> np.ndarray:
        """(n_pool,) bool: rows whose spectrum is of the dataset's own protocol (test labels)."""
        if self.fidelity is None:
            return self.has_spectrum.copy()
        return self.has_spectrum & (self.fidelity == self.primary_fidelity)


def _cache_dir() -> Path:
    """Where sidecars of the package's datasets go (:func:`amorphxas.dataset.sidecar.cache_dir`)."""
    from amorphxas.dataset.sidecar import cache_dir

    return cache_dir()


def descriptor_sidecar(dataset, kind: str, preset: str = "study1", descriptors=None,
                       n_jobs: int = 1, progress: bool = False) -> Path:
    """A sidecar with ``kind`` descriptors whose rows are the dataset's current sites.

    ``dataset``: a path or an open :class:`~amorphxas.dataset.Dataset`. ``descriptors``: an
    existing sidecar to use (and refresh if stale). Default: the dataset's sidecar
    (:func:`amorphxas.dataset.sidecar.sidecar_path`: ``<dataset>.<preset>.descriptors.h5`` next
    to the dataset, or in ``~/.cache/amorphxas`` for the dataset inside the package; a fresh
    block in a file with the older name ``<dataset>.descriptors.h5`` is used as it is).
    Recomputed unless the stored block has the same kind, preset, full descriptor parameters and
    structures (SHA-256 keys, :mod:`amorphxas.descriptors.cache`) and one row per current site.
    """
    from amorphxas.descriptors.cache import fresh_sidecar

    return fresh_sidecar(dataset, kind, preset, descriptors, n_jobs, progress)


def load_pool(dataset=None, kind: str = "soap-gto", preset: str = "study1", descriptors=None,
              n_jobs: int = 1, energy=None, fidelity: str = "primary") -> Pool:
    """Descriptors of every Si site and the normalised spectra of the computed ones.

    ``fidelity``: which spectra ("primary": the dataset's own protocol; "primary+screening": also
    its screening rows, e.g. Gamma-only spectra of a v4 dataset; see
    :func:`amorphxas.dataset.tables.select_fidelity`). Splits test on primary rows only.

    ``dataset``: a path or an open :class:`~amorphxas.dataset.Dataset` (default: the embedded one).
    Normalisation (study 1): divide by the maximum of the mean spectrum of the computed Si4+
    sites; with no Si4+ spectrum yet, by the maximum of the mean of all spectra (recorded in
    ``normalisation``). ``energy``: the grid a model expects; a different dataset grid is an error.
    """
    from amorphxas.core.spectrum import normalise_max_of_mean
    from amorphxas.dataset import Dataset, embedded_path
    from amorphxas.descriptors import load_descriptors

    data = Dataset.open(dataset if dataset is not None else embedded_path())
    dataset = data.path
    sidecar = descriptor_sidecar(data, kind, preset, descriptors, n_jobs)
    X, cell, index, params = load_descriptors(sidecar, kind)
    sites = data.sites
    if list(cell) != list(sites.cell_id) or not np.array_equal(index, sites.atom_index):
        raise ForwardError(f"{sidecar}: descriptor rows do not match the sites of {dataset}")
    spectra = data.spectra(fidelity)
    if energy is not None:
        check_grid(spectra.energy, energy, str(dataset))
    rows = data.site_rows(spectra)
    Y = np.full((len(sites.cell_id), spectra.energy.size), np.nan)
    has = np.zeros(len(sites.cell_id), bool)
    Y[rows[rows >= 0]] = spectra.intensity[rows >= 0]
    has[rows[rows >= 0]] = True
    labels = np.full(len(sites.cell_id), "", dtype=object)
    labels[rows[rows >= 0]] = spectra.fidelity[rows >= 0]
    primary = has & (labels == data.primary_fidelity)
    scale, how = 1.0, "none (no spectra)"
    if has.any():
        if not np.all(np.isfinite(Y[has])):
            bad = np.flatnonzero(has & ~np.all(np.isfinite(Y), axis=1))[0]
            raise ForwardError(f"{dataset}: spectrum of {sites.cell_id[bad]}:{sites.atom_index[bad]} "
                               "contains NaN/inf")
        # the scale comes from the dataset's own protocol's spectra where there are any
        base = primary if primary.any() else has
        si4 = base & (sites.valence == 4)
        ref = si4 if si4.any() else base
        how = "max of mean Si4+ spectrum = 1" if si4.any() else "max of mean spectrum = 1 (no Si4+ yet)"
        Y[has], scale = normalise_max_of_mean(Y[has], ref[has])
    return Pool(X_raw=np.asarray(X, dtype=np.float64), cell_id=sites.cell_id,
                atom_index=sites.atom_index, valence=sites.valence, has_spectrum=has, Y=Y,
                energy=spectra.energy, scale=float(scale), normalisation=how, descriptor=params,
                dataset=str(dataset), fidelity=labels, primary_fidelity=data.primary_fidelity)


def check_grid(energy, expected, source: str = "spectra") -> None:
    energy, expected = np.asarray(energy, float), np.asarray(expected, float)
    if energy.shape != expected.shape or not np.allclose(energy, expected, rtol=0, atol=1e-6):
        raise ForwardError(f"{source}: energy grid ({energy.size} points, {energy[:1]}..{energy[-1:]} eV) "
                           f"differs from the model's ({expected.size} points, "
                           f"{expected[:1]}..{expected[-1:]} eV)")



def labelled_rows(pool: Pool) -> np.ndarray:
    """Rows with a spectrum and a valence 0..4 (over-coordinated Si are not modelled)."""
    return np.flatnonzero(pool.has_spectrum & (pool.valence <= MAX_VALENCE))


def make_split(pool: Pool, split: str = "random", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training and test rows of ``pool`` (indices into it).

    The split is drawn over the rows of the dataset's own protocol (``pool.is_primary``), so the
    test labels are always of that fidelity; screening rows (e.g. Gamma-only spectra) are added
    to the training part, except those of test cells (cell split)."""
    rows = labelled_rows(pool)
    primary = pool.is_primary[rows]
    main, extra = rows[primary], rows[~primary]
    if main.size < MIN_SITES:
        raise ForwardError(f"{pool.dataset}: {main.size} site spectra; need at least {MIN_SITES} to "
                           "train and test a forward model (run `amorphxas compute` for more)")
    if split == "random":
        tr, te = split_random(pool.valence[main], seed)
    elif split == "cell":
        tr, te = split_cell(pool.cell_id[main], seed)
    else:
        raise ForwardError(f"unknown split {split!r}: use random or cell")
    train, test = main[tr], main[te]
    if extra.size:
        held_out = np.isin(pool.cell_id[extra], pool.cell_id[test]) if split == "cell" else \
            np.zeros(extra.size, bool)
        train = np.sort(np.concatenate([train, extra[~held_out]]))
    return train, test
