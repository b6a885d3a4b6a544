"""The Python API: one function per stage, calling the same stage code as the ``amorphxas`` commands.

Exported from the top-level package (``amorphxas.build``, ``amorphxas.predict``, ...). Units:
energies in eV (absolute, aligned Si K-edge scale), distances in Angstrom, charges in e; spectra
on the common grid of 256 points from 1830 to 1880 eV, normalised as the dataset/model says.
Bad input raises :class:`amorphxas.core.errors.AmorphxasError` (one line, naming the file).
"""

from __future__ import annotations

import tempfile
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for the signatures only
    import numpy as np
    from ase import Atoms

    from amorphxas.sites import SiteAnalysis

PathOrStr = str | PathLike
MELT_QUENCH, DEPLETED = "melt-quench", "depleted-supercell"


def _atoms(structure: PathOrStr | Atoms) -> Atoms:
    from amorphxas.structures import read_structure, validate_structure

    if isinstance(structure, (str, PathLike)):
        return read_structure(structure)
    validate_structure(structure, source="structure")
    return structure


def _dataset(dataset: PathOrStr | None) -> Path:
    """The dataset path (default: the embedded one), validated."""
    from amorphxas.dataset import embedded_path, validate

    path = Path(dataset) if dataset is not None else embedded_path()
    validate(path)
    return path


def build(kind: str = MELT_QUENCH, *, x: float = 1.0, n_atoms: int = 100, schedule: str = "dataset",
          seed: int = 0, progress: bool = False, **overrides) -> Atoms:
    """A periodic Si/O cell, as ``amorphxas build``.

    ``kind``: 'melt-quench' (study 1's random melt, ``n_atoms`` atoms at O/Si ratio ``x``),
    'depleted-supercell' (study 2, x one of 0, 0.25, ..., 2; ``n_atoms`` ignored) or a crystal
    reference 'alpha-quartz' (72 atoms) / 'diamond-si' (64 atoms). ``schedule``: the MD schedule
    (docs/structures.md): 'dataset' (the shipped DFT cells', ~30 s per 100 atoms), 'study1' /
    'study2' (the papers'), 'network' (slower cooling), 'test' (seconds); ``overrides`` change any
    schedule value (e.g. ``melt_ps=100``, ps; ``t_melt=4500``, K). Returns an :class:`ase.Atoms`
    (positions in Angstrom) with the provenance in ``atoms.info`` (``x`` is the cell's actual O/Si).
    """
    from amorphxas.structures import build_reference, depleted_supercell, melt_quench

    if kind == MELT_QUENCH:
        return melt_quench(x=x, n_atoms=n_atoms, preset=schedule, seed=seed, progress=progress,
                           **overrides)
    if kind == DEPLETED:
        return depleted_supercell(x=x, preset=schedule, seed=seed, progress=progress, **overrides)
    return build_reference(kind)


def analyse_sites(structure: PathOrStr | Atoms, *, cutoff: float | None = None,
                  si_si_cutoff: float | None = None) -> SiteAnalysis:
    """Per-Si-site analysis of a cell (or structure file, any ASE format), as ``amorphxas sites``.

    ``cutoff``: Si-O bond cutoff (Angstrom, default 2.10), ``si_si_cutoff``: Si-Si (default 2.65).
    Returns a :class:`~amorphxas.sites.SiteAnalysis`: per Si site ``index`` (n_Si,), ``valence``
    (n_Si,) = number of O neighbours 0-4 (more for over-coordinated Si), ``motif`` (n_Si,) e.g.
    'SiSi2O2', ``rdf`` (n_Si, 256) on ``rdf_r`` (256,) Angstrom; ``records()`` gives JSON rows.
    """
    from amorphxas.sites import analyse

    return analyse(_atoms(structure), cutoff=cutoff, si_si_cutoff=si_si_cutoff)


def compute_site(structure: PathOrStr | Atoms, site: int, *, protocol: str = "production-v4",
                 dataset: PathOrStr | None = None, workdir: PathOrStr | None = None,
                 n_procs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Core-hole DFT Si K-edge spectrum of atom ``site`` (a Si index), as ``amorphxas compute-site``.

    Runs Quantum ESPRESSO (pw.x + xspectra.x) under DFT ``protocol`` (docs/protocol.md; minutes
    per site) and puts the spectrum on the absolute scale with ``dataset``'s alignment constant
    (default: the embedded dataset; refused before any DFT if the constant was fitted under
    another protocol). ``workdir``: where QE runs (default a new temporary folder); ``n_procs``:
    MPI ranks (default the protocol's). Returns (energy (256,) eV, intensity (256,)) on the common
    grid 1830-1880 eV, polarisation-averaged and broadened as the dataset stores site spectra.
    """
    from dataclasses import replace

    from amorphxas.core.spectrum import COMMON_GRID
    from amorphxas.spectra.qe import get_settings
    from amorphxas.spectra.site import compute_site_spectrum

    settings = get_settings(protocol)
    if n_procs is not None:
        settings = replace(settings, n_procs=int(n_procs))
    intensity, _ = compute_site_spectrum(_atoms(structure), int(site), _dataset(dataset), settings,
                                         Path(workdir) if workdir is not None else None)
    return COMMON_GRID.copy(), intensity


def train_forward(dataset: PathOrStr | None = None, *, descriptor: str | None = None,
                  mode: str | None = None, descriptor_preset: str | None = None,
                  split: str | None = None, seed: int = 0, output: PathOrStr | None = None
                  ) -> tuple[Any, dict]:
    """A structure -> spectrum model, as ``amorphxas train forward``.

    Default (no ``descriptor``/``mode``/``descriptor_preset``): the benchmark winner (kernel ridge
    on physical site features, residual on the valence-mean spectrum, docs/forward.md) on the
    'cell' split (whole cells held out). Otherwise study 1's ridge ('direct', 'pca' or 'nmf') on
    ``descriptor`` (default 'soap-gto') of size ``descriptor_preset`` ('study1' | 'fast'), 'random'
    split. ``output``: a new model folder (model.npz, model.json, metrics.json), written all or
    nothing. Returns (model, metrics); metrics: ``rmse_total`` and ``baseline_rmse_total``
    (valence-mean spectrum) in the dataset's normalisation, ``n_train``, ``n_test`` (site spectra),
    ``rmse_energy`` (256,), ``rmse_by_valence``.
    """
    from amorphxas.core.files import atomic_folder, check_output_dir
    from amorphxas.descriptors import get_descriptor
    from amorphxas.forward import save_training
    from amorphxas.forward import train_forward as train_ridge
    from amorphxas.forward.compact_model import save_compact_training, train_compact

    source = _dataset(dataset)
    study1 = descriptor is not None or mode is not None or descriptor_preset is not None
    kind, mode, size = descriptor or "soap-gto", mode or "direct", descriptor_preset or "study1"
    get_descriptor(kind, size)
    if output is not None:
        check_output_dir(Path(output), what="model folder")
    if not study1:
        model, metrics = train_compact(source, split=split or "cell", seed=seed)
        save = save_compact_training
    else:
        model, metrics = train_ridge(source, kind=kind, mode=mode, split=split or "random", seed=seed,
                                     preset=size)
        save = save_training
    if output is not None:
        with atomic_folder(Path(output)) as tmp:
            save(model, metrics, tmp)
    return model, metrics


def train_inverse(dataset: PathOrStr | None = None, *, target: str = "valence", split: str = "random",
                  seed: int = 0, members: int = 5, output: PathOrStr | None = None
                  ) -> tuple[Any, dict]:
    """A spectrum -> structure network ensemble, as ``amorphxas train inverse``.

    ``target``: 'valence' (O neighbours of the absorbing Si, 0-4), 'charge' (its Bader charge, e)
    or 'rdf' (its RDF, 256 points up to 5 Angstrom); ``split``: 'random' or 'cell'; ``members``:
    ensemble size (uncertainty). ``output``: a new model folder (the networks and metrics.json).
    Returns (model, metrics); metrics: test ``rmse`` and ``r2``, ``constant_rmse`` (training-mean
    predictor), ``baseline_rmse`` (linear edge heuristic, scalar targets), ``n_train``, ``n_test``,
    ``n_sites``, ``n_cells``.
    """
    import json

    from amorphxas.core.errors import AmorphxasError
    from amorphxas.core.files import atomic_folder, check_output_dir
    from amorphxas.inverse import save_model
    from amorphxas.inverse import train_inverse as train

    if not members >= 1:
        raise AmorphxasError(f"members {members}: must be at least 1")
    source = _dataset(dataset)
    if output is not None:
        check_output_dir(Path(output), what="model folder")
    model, metrics = train(source, target=target, split=split, seed=seed, n_members=members)
    if output is not None:
        with atomic_folder(Path(output)) as tmp:
            save_model(model, tmp, extra={"target": target, "split": split})
            (tmp / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    return model, metrics


def predict(model_dir: PathOrStr, structure: PathOrStr | Atoms) -> dict:
    """Per-site Si K-edge spectra of every Si of a structure from a forward model (``amorphxas
    predict`` writes the same arrays as CSV).

    Returns a dict: ``energy`` (n_E,) eV, ``spectra`` and ``std`` (n_Si, n_E) in the model's
    normalisation, ``mean`` (n_E,) = the cell's average spectrum, ``atom_index`` (n_Si,),
    ``n_sites`` and the training-domain check (default model: ``outside`` (n_Si,) bool,
    ``n_outside``; a study-1 ridge model: ``n_outside_leverage``, ``n_outside_mahalanobis``).
    """
    import numpy as np

    from amorphxas.forward.compact_model import (
        CompactForwardModel,
        load_forward,
        predict_structure_compact,
    )
    from amorphxas.forward.model import predict_structure

    model = load_forward(model_dir)
    with tempfile.TemporaryDirectory(prefix="amorphxas-predict-") as tmp:
        if not isinstance(structure, (str, PathLike)):  # the stage functions read a file
            from amorphxas.structures import write_structure

            path = Path(tmp) / "structure.extxyz"
            write_structure(_atoms(structure), path)
            structure = path
        if isinstance(model, CompactForwardModel):
            result = predict_structure_compact(model, structure)
        else:
            energy, spectra, std, domain = predict_structure(model, structure, return_domain=True)
            result = {**domain, "energy": energy, "spectra": spectra, "std": std}
    result["mean"] = np.asarray(result["spectra"]).mean(axis=0)
    return result


def invert(spectrum: PathOrStr, model_dir: PathOrStr | None = None, *, columns: str | None = None,
           dataset: PathOrStr | None = None, references: list[tuple[PathOrStr, str]] = (),
           bootstrap: int = 100, energy_shift: float = 0.0) -> dict:
    """Si valence fractions, mean valence and mean Bader charge of a measured Si K-edge spectrum,
    as ``amorphxas invert``.

    ``spectrum``: a two-column text file (energy eV, absorption), XDI or Athena project;
    ``columns``: which columns ('ENERGY,MU', 1-based numbers...); ``references``: (file,
    'alpha-quartz' | 'silicon') spectra measured on the sample's energy scale; ``energy_shift``:
    eV added to the energies first; ``bootstrap``: draws over the site spectra of ``dataset``'s
    per-valence standards (default the embedded dataset). ``model_dir``: networks of ``amorphxas
    train measured`` (optional). Returns the JSON-ready result: ``fractions`` and
    ``fractions_std`` {'Si0'..'Si4+'} (0-1), ``mean_valence`` (+ ``_std``), ``mean_bader_charge``
    (e), ``fit`` (R-factor, window eV), ``network`` (with ``model_dir``), ``warnings``.
    """
    from amorphxas.measured.answer import analyse

    return analyse(spectrum, model_dir=model_dir, columns=columns, dataset=dataset,
                   references=list(references), n_boot=bootstrap, energy_shift=energy_shift).result
