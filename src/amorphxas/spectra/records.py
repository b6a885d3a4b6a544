"""Finished sites as the dataset stores them: each result aligned and broadened
(:func:`amorphxas.spectra.site.stored_spectrum`), with its provenance, raw chains and fidelity,
written by :mod:`amorphxas.dataset.results` in one transaction with the protocol stamp."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from amorphxas.core.dft_settings import DFTSettings
from amorphxas.core.errors import DatasetError
from amorphxas.core.spectrum import COMMON_GRID, Broadening, edge_energy
from amorphxas.dataset import Dataset, results
from amorphxas.dataset.fidelity import fidelity_of_settings
from amorphxas.spectra.lanczos import chains_as_arrays
from amorphxas.spectra.protocol import ENGINE
from amorphxas.spectra.selection import SiteTask
from amorphxas.spectra.site import SiteResult, stored_spectrum


def raw_chains(result: SiteResult) -> dict[str, np.ndarray] | None:
    """The Lanczos chains to keep beside the raw spectrum (re-cutting then needs no DFT)."""
    return chains_as_arrays(result.chains) if result.chains else None


def stamp(settings: DFTSettings, broadening: Broadening, hashes: dict) -> results.Stamp:
    """The protocol record of spectra computed with ``settings``, ``broadening`` and the
    pseudopotentials of ``hashes``."""
    return results.Stamp(ENGINE, settings.as_dict(), broadening, hashes)


def site_record(task: SiteTask, result: SiteResult, constant: float, settings: DFTSettings,
                broadening: Broadening) -> results.SiteRecord:
    """One finished site as stored: aligned with ``constant`` (eV) and broadened."""
    intensity = stored_spectrum(result, constant, broadening, settings)
    # when the site was stored (UTC): campaign rates are measured from the dataset itself
    attrs = {**result.provenance(), "finished_at": datetime.now(timezone.utc).isoformat(
        timespec="seconds")}
    return results.SiteRecord(task.cell_id, task.atom_index, intensity,
                              edge_energy(COMMON_GRID, intensity), result.energy, result.sigma,
                              attrs, raw_chains(result),
                              fidelity=fidelity_of_settings(settings))


def write_sites(dataset: Path, done: list[tuple[SiteTask, SiteResult]], settings: DFTSettings,
                broadening: Broadening, hashes: dict, protocol: DFTSettings | None = None) -> None:
    """Broaden, align and store finished sites in one transaction (all or none).

    ``settings``: the protocol the sites were computed with; ``protocol``: the dataset's own
    (default ``settings``), which its ``/spectra`` settings keep naming. A site of another
    protocol (a screening k-point subset) records its own settings and fidelity in its row."""
    constant = Dataset(dataset).alignment_constant()
    if constant is None:
        raise DatasetError(f"{dataset}: no alignment constant yet (compute the alpha-quartz "
                           "reference first)")
    protocol = settings if protocol is None else protocol
    records = [site_record(task, result, constant, settings, broadening) for task, result in done]
    if settings != protocol:
        for record in records:
            record.attrs["settings"] = settings.as_dict()
    results.write_sites(dataset, records, stamp(protocol, broadening, hashes))
