"""Spectra evaluated again from their stored Lanczos chains, without DFT: one site moved to a
protocol that differs only in how chains are evaluated (:func:`recut_site`), or a whole dataset
written anew (:func:`reevaluate_dataset`), e.g. after a fix of the chain evaluation or to
another k-point subset (``production-v4`` -> ``screening-gamma``)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from amorphxas.core.dft_settings import DFTSettings, get_settings
from amorphxas.core.errors import DatasetError
from amorphxas.core.spectrum import DEFAULT_BROADENING, Broadening
from amorphxas.dataset import Dataset, results, store
from amorphxas.spectra.lanczos import LanczosChains, chains_from_arrays
from amorphxas.spectra.protocol import (
    CHAIN_EVALUATION,
    RUNTIME_ONLY,
    differing_settings,
    reference_settings,
    settings_for_dataset,
    stored_settings,
)
from amorphxas.spectra.records import write_sites
from amorphxas.spectra.references import write_reference
from amorphxas.spectra.selection import SiteTask
from amorphxas.spectra.site import SiteResult, occupied_fermi_cut


def recut_site(source: Path, target: Path, cell_id: str, atom_index: int,
               chains: list[LanczosChains], preset: str | DFTSettings = "production-v3",
               broadening: Broadening = DEFAULT_BROADENING) -> None:
    """Move one site spectrum of ``source`` into ``target`` under a protocol that differs only
    in how the Lanczos chains are cut and evaluated (``occupied_cut``, ``xs_niter``).

    ``chains``: the site's chains, one per polarisation, as xspectra wrote them for ``source``.
    They are truncated to the target's ``xs_niter`` (a chain's first n coefficients are what an
    n-step run computes) and evaluated with the target's cut on the source's raw energy grid;
    the source's core-hole SCF results (``xe0``, total energies) are reused. ``target`` needs
    its own alpha-quartz reference (alignment constant) first.
    """
    settings = settings_for_dataset(target, preset)
    old = stored_settings(source)
    if not old:
        raise DatasetError(f"{source}: no spectra, so no DFT settings to compare")
    _check_chain_evaluation(source, old, target, settings, chains)
    raw = results.read_site_raw(source, store.site_key(cell_id, atom_index))
    hashes = Dataset(source).pseudopotentials()  # those that made the chains
    if len(chains) != len(settings.xs_polarisations):
        raise DatasetError(f"{store.site_key(cell_id, atom_index)}: {len(chains)} chains for "
                           f"{len(settings.xs_polarisations)} polarisations")
    result = _evaluated(raw.attrs, raw.energy, chains, settings)
    result.seconds["recut_from"] = str(Path(source).name)
    write_sites(target, [(SiteTask(cell_id, int(atom_index)), result)], settings, broadening, hashes)


def _check_chain_evaluation(source: Path, old: dict, target: Path, settings: DFTSettings,
                            chains: list[LanczosChains]) -> None:
    """Refuse to move chains computed under settings ``old`` (a dict) to ``settings`` unless
    the two differ only in how chains are evaluated, and the chains hold what the target needs."""
    differing = differing_settings(old, settings, RUNTIME_ONLY | CHAIN_EVALUATION)
    if differing:
        raise DatasetError(f"{source} -> {target}: protocols differ in {', '.join(differing)}; "
                           "only the chain evaluation can be redone without DFT")
    if old["xs_niter"] < settings.xs_niter and any(
            (c.steps >= old["xs_niter"]).any() for c in chains):
        raise DatasetError(f"{source}: chains stopped at xs_niter {old['xs_niter']}, fewer steps "
                           f"than the target's {settings.xs_niter}")
    held = _held_mesh_indices(old)
    if not set(settings.xs_mesh_indices()) <= set(held):
        raise DatasetError(f"{source}: its spectra hold the k-points {old['xs_kpoint_shifts']} "
                           f"only, not {json.loads(json.dumps(settings.xs_kpoint_shifts))}")


def _held_mesh_indices(stored: dict) -> list[int]:
    """Positions in the 2x2x2 (or whole) mesh of the k-points whose chains a dataset computed
    under the JSON settings ``stored`` holds."""
    held = DFTSettings(xs_kpoints=tuple(stored["xs_kpoints"]), occupied_cut=stored["occupied_cut"],
                       xs_kpoint_shifts=stored["xs_kpoint_shifts"])
    return held.xs_mesh_indices()


def _at_kpoints(chains: list[LanczosChains], settings: DFTSettings,
                held: list[int] | None = None) -> list[LanczosChains]:
    """``chains`` reduced to the protocol's k-points. ``held``: the mesh positions the chains
    hold (:func:`_held_mesh_indices`); default the whole mesh when there are as many chains, else
    exactly the protocol's points."""
    wanted = settings.xs_mesh_indices()
    n_mesh = int(np.prod(settings.xs_kpoints))
    out = []
    for c in chains:
        n_k = len(c.steps)
        points = held if held is not None else list(range(n_mesh)) if n_k == n_mesh else wanted
        if len(points) != n_k or not set(wanted) <= set(points):
            raise DatasetError(f"chains of {n_k} k-points (mesh positions {points}) do not hold "
                               f"the protocol's points {wanted}")
        out.append(c if points == wanted else c.kpoints([points.index(w) for w in wanted]))
    return out


def _evaluated(attrs, raw_energy: np.ndarray, chains: list[LanczosChains],
               settings: DFTSettings, held: list[int] | None = None) -> SiteResult:
    """A stored site or reference (its raw-group ``attrs``: core-hole SCF results) with its
    spectrum evaluated from ``chains`` (reduced to the protocol's k-points, truncated to
    ``settings.xs_niter``) on ``raw_energy`` (eV), with the protocol's occupied-state cut."""
    xe0, delta = float(attrs["xe0"]), float(attrs["delta_total_energy"])
    energy_rel = raw_energy - xe0 - delta
    truncated = [c.truncated(settings.xs_niter) for c in _at_kpoints(chains, settings, held)]
    sigma = np.array([occupied_fermi_cut(c, energy_rel, xe0, settings) for c in truncated])
    seconds = json.loads(attrs["seconds"]) if isinstance(attrs.get("seconds"), str) else {}
    return SiteResult(atom_index=int(attrs["atom_index"]), energy=raw_energy, sigma=sigma,
                      xe0=xe0, delta_total_energy=delta,
                      ground_state_energy=float(attrs["ground_state_energy"]),
                      core_hole_energy=float(attrs["core_hole_energy"]),
                      core_hole_iterations=int(attrs["core_hole_iterations"]),
                      seconds=seconds, chains=truncated,
                      core_hole_gamma_only=bool(attrs.get("core_hole_gamma_only", False)))


def _chains(raw: results.StoredRaw, settings: DFTSettings) -> list[LanczosChains]:
    """The Lanczos chains a stored site or reference holds, one per polarisation."""
    return chains_from_arrays(raw.arrays, settings.xs_check_conv)


def reevaluate_dataset(source: Path, target: Path, preset: str | DFTSettings = "production-v3",
                       target_preset: str | DFTSettings | None = None,
                       broadening: Broadening = DEFAULT_BROADENING, log=print) -> int:
    """Write ``target``: ``source`` (computed with ``preset``) with every spectrum (references,
    then sites) evaluated again from its stored Lanczos chains by this amorphxas, e.g. after a
    fix of the chain evaluation, or under ``target_preset`` when that differs from ``preset``
    only in how chains are evaluated (:data:`CHAIN_EVALUATION`: cut, steps, k-point subset).
    No DFT runs; the alignment constant is re-fitted to the re-evaluated quartz.
    ``log``: called with one line per reference and one at the end.
    Returns the number of site spectra written."""
    source, target = Path(source), Path(target)
    if target.exists():
        raise DatasetError(f"{target}: exists; re-evaluation writes a new dataset")
    source_settings = settings_for_dataset(source, preset)
    if source_settings.occupied_cut != "fermi":
        raise DatasetError(f"{source}: protocol {source_settings.occupied_cut!r} keeps no chains")
    settings = get_settings(target_preset) if target_preset is not None else source_settings
    stored = results.read_results(source)
    sites = {key: _chains(raw, settings) for key, raw in stored.sites.items()}
    _check_chain_evaluation(source, stored_settings(source), target, settings,
                            [c for chains in sites.values() for c in chains])
    final, target = target, target.with_name(target.name + ".partial")  # complete or absent
    target.unlink(missing_ok=True)
    try:
        _write_reevaluated(source, target, stored, sites, settings, broadening, log)
        os.replace(target, final)
    finally:
        target.unlink(missing_ok=True)
        Path(str(target) + ".lock").unlink(missing_ok=True)
    log(f"{len(stored.sites)} site spectra")
    return len(stored.sites)


def _write_reevaluated(source: Path, target: Path, stored: results.StoredResults,
                       sites: dict[str, list[LanczosChains]], settings: DFTSettings,
                       broadening: Broadening, log) -> None:
    """Fill the new dataset ``target`` (references first: quartz fixes the alignment)."""
    from ase import Atoms

    store.fork(source, target)
    results.set_alignment(target, stored.alignment)  # quartz re-fits them
    for name, raw in stored.references.items():
        attrs = raw.attrs
        atoms = Atoms(numbers=json.loads(attrs["structure_numbers"]),
                      positions=json.loads(attrs["structure_positions"]),
                      cell=json.loads(attrs["structure_cell"]), pbc=True)
        settings_name = reference_settings(name, settings)
        result = _evaluated(attrs, raw.energy, _chains(raw, settings), settings_name)
        write_reference(target, name, atoms, result, settings_name, broadening,
                        stored.pseudopotentials)
        log(f"reference {name}")
    by_protocol: dict[DFTSettings, list] = {}
    dataset_held = _held_mesh_indices(stored_settings(source))
    wanted = set(settings.xs_mesh_indices())
    for key, raw in stored.sites.items():
        cell_id, index = key.rsplit(":", 1)
        # a screening row (a k-point subset) names its own settings; the others the dataset's
        own = raw.attrs.get("settings")
        own = json.loads(own) if isinstance(own, (str, bytes)) else own
        held = _held_mesh_indices(own) if own else dataset_held
        row_settings = settings
        if not wanted <= set(held):  # a screening row stays a screening row of the new protocol
            row_settings = replace(settings, xs_kpoints=tuple(own["xs_kpoints"]),
                                   xs_kpoint_shifts=own["xs_kpoint_shifts"] and
                                   tuple(tuple(p) for p in own["xs_kpoint_shifts"]))
        result = _evaluated(raw.attrs, raw.energy, sites[key], row_settings, held)
        # its timings are those of the run that made the chains, under the source's protocol
        result.seconds.setdefault("reevaluated_from", source.name)
        by_protocol.setdefault(row_settings, []).append((SiteTask(cell_id, int(index)), result))
    for row_settings, done in by_protocol.items():  # one copy of the file per protocol, not N
        write_sites(target, done, row_settings, broadening, stored.pseudopotentials,
                    protocol=settings)
