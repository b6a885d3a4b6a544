"""One dataset, one protocol: the DFT settings a dataset's spectra were computed with, compared
with the settings a campaign (or a single site) would use, and the protocol as applied to the
crystal references."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from amorphxas.core.dft_settings import PRESETS, DFTSettings, completed_settings, get_settings
from amorphxas.core.errors import DatasetError
from amorphxas.dataset import Dataset
from amorphxas.dataset.fidelity import RUNTIME_ONLY  # settings that do not change a spectrum
from amorphxas.dataset.results import check_broadening
from amorphxas.dataset.text import json_attr

ENGINE = "Quantum ESPRESSO pw.x + xspectra.x (Debian 6.7), core-hole FCH"
# smallest k-mesh of the reference spectra: quartz is converged at Gamma (72 atoms), diamond Si
# is not; a protocol with a denser mesh uses its own
REFERENCE_KPOINTS = {"alpha-quartz": (1, 1, 1), "diamond-si": (2, 2, 2)}
# settings that only change how stored Lanczos chains become a spectrum (no DFT to redo them)
CHAIN_EVALUATION = {"occupied_cut", "xs_niter", "xs_kpoint_shifts"}

__all__ = ["CHAIN_EVALUATION", "ENGINE", "REFERENCE_KPOINTS", "RUNTIME_ONLY", "alignment_constant_for",
           "check_alignment_protocol", "check_broadening", "check_screening", "differing_settings",
           "reference_settings", "settings_for_dataset", "stored_settings"]


def stored_settings(dataset: Path | Dataset) -> dict:
    """The JSON settings a dataset's spectra were computed with ({} before its first spectrum);
    a field added after the dataset was written counts as the value it had before it existed."""
    stored = Dataset.open(dataset).protocol()
    return completed_settings(stored) if stored else {}


def differing_settings(stored: dict, settings: DFTSettings, ignore: set[str]) -> list[str]:
    """Names of the fields (outside ``ignore``) where ``settings`` differs from ``stored``."""
    mine = json.loads(json.dumps(settings.as_dict()))
    return sorted(k for k in mine if k not in ignore and stored[k] != mine[k])


def settings_for_dataset(dataset: Path, preset: str | DFTSettings) -> DFTSettings:
    """The dataset's own DFT settings if it has spectra; else the preset (and it must agree)."""
    settings = get_settings(preset)
    stored = stored_settings(dataset)
    if stored:
        differing = differing_settings(stored, settings, RUNTIME_ONLY)
        if differing:
            raise DatasetError(f"{dataset}: its spectra were computed with other DFT settings "
                               f"({', '.join(differing)}); one dataset holds one protocol")
    return settings


def check_screening(protocol: DFTSettings, screening: DFTSettings) -> None:
    """Refuse ``screening`` unless it is ``protocol`` with the spectrum on a subset of its k-points.

    Such a spectrum (e.g. ``screening-gamma`` for ``production-v4``: the same SCF, the Lanczos
    chains at Gamma only) shares the dataset's ground states, alignment constant and broadening,
    and is stored as a row of lower fidelity beside the dataset's own; anything else would be a
    second protocol in one dataset."""
    own = json.loads(json.dumps(protocol.as_dict()))
    differing = differing_settings(own, screening, RUNTIME_ONLY)
    subset = (tuple(screening.xs_kpoints) == tuple(protocol.xs_kpoints)
              and set(screening.xs_mesh_indices()) <= set(protocol.xs_mesh_indices()))
    if any(k != "xs_kpoint_shifts" for k in differing) or not subset:
        raise DatasetError(f"screening protocol differs from the dataset's in "
                           f"{', '.join(differing) or 'nothing'}: it must be the dataset's protocol "
                           "with the spectrum on a subset of its k-points (e.g. screening-gamma "
                           "for production-v4)")


def reference_settings(name: str, settings: DFTSettings) -> DFTSettings:
    """The dataset protocol as applied to crystal reference ``name``: its converged k-mesh."""
    # references keep their whole mesh: computed once, and quartz fixes every site's alignment
    mesh = tuple(max(a, b) for a, b in zip(REFERENCE_KPOINTS[name], settings.xs_kpoints))
    settings_name = replace(settings, xs_kpoints=mesh, xs_kpoint_shifts=None)
    if name == "diamond-si":  # Td site: one polarisation is the isotropic average
        settings_name = replace(settings_name, xs_polarisations=((1, 0, 0),))
    return settings_name


def check_alignment_protocol(dataset: Path | Dataset, settings: DFTSettings) -> None:
    """Refuse ``settings`` unless ``dataset``'s alignment constant (eV) was fitted under them.

    The constant comes from the dataset's alpha-quartz reference, computed with the protocol as
    applied to quartz (its own k-mesh); a site of another protocol (cut-offs, k-mesh, Lanczos
    cut) would be put on the absolute scale with a constant that is not its own. Runtime-only
    fields (ranks, gamma_only SCF) may differ."""
    quartz = Dataset.open(dataset).references.get("alpha-quartz")
    recorded = json_attr(quartz.attrs, "settings") if quartz is not None else None
    if recorded is None:
        raise DatasetError(f"{dataset}: its alignment constant has no recorded protocol "
                           "(no alpha-quartz reference settings)")
    stored = completed_settings(recorded)
    differing = differing_settings(stored, reference_settings("alpha-quartz", settings),
                                   RUNTIME_ONLY)
    if differing:
        own = [name for name, preset in PRESETS.items() if not differing_settings(
            stored, reference_settings("alpha-quartz", preset), RUNTIME_ONLY)]
        hint = f"use --preset {' or '.join(own)}" if own else "use a dataset of this protocol"
        raise DatasetError(f"{dataset}: its alignment constant was fitted under another DFT "
                           f"protocol (differs in {', '.join(differing)}); {hint}")


def alignment_constant_for(dataset: Path | Dataset, settings: DFTSettings) -> float:
    """``dataset``'s alignment constant (eV) for a site computed with ``settings``: refused in
    one line if there is none or it was fitted under another protocol (no DFT needed to see it)."""
    dataset = Dataset.open(dataset)
    constant = dataset.alignment_constant()
    if constant is None:
        raise DatasetError(f"{dataset}: no alignment constant (alpha-quartz reference) yet")
    check_alignment_protocol(dataset, settings)
    return constant
