"""Fidelity of a site spectrum: which DFT protocol made it.

Every row of ``/spectra`` has a fidelity label. Datasets written before the per-row column
``/spectra/fidelity`` existed hold one protocol, named by their ``/spectra`` ``settings``
attribute, so each row's fidelity is derived from those settings (nothing is rewritten):

* ``"v4"``    - the ``production-v4`` protocol (spectrum on the four fcc points of the 2x2x2 mesh)
* ``"gamma"`` - ``screening-gamma`` (the same SCF, spectrum at Gamma only)
* ``"gamma-corrected"`` - a Gamma spectrum with a learned correction towards v4: never a v4 label
* any other protocol: its preset name (e.g. ``"production-v3"``), or ``"custom"``

A row labelled ``"v4"`` must hold Lanczos chains on the four fcc k-points (checked when it is
written, :func:`check_fidelity`), so a corrected Gamma spectrum cannot be stored as v4.
"""

from __future__ import annotations

import json

import numpy as np

from amorphxas.core.errors import DatasetError
from amorphxas.dataset.text import as_texts, json_attr

V4, GAMMA, GAMMA_CORRECTED = "v4", "gamma", "gamma-corrected"
PRESET_FIDELITY = {"production-v4": V4, "screening-gamma": GAMMA}
#: screening fidelities of a protocol: its spectrum on a subset of its k-points (same SCF)
SCREENING_OF = {V4: (GAMMA,)}
V4_KPOINTS = 4  # chains per polarisation of a v4 spectrum (the fcc points of the 2x2x2 mesh)
UNKNOWN = "unknown"  # a dataset without DFT settings (fixtures)
#: DFT settings that do not change a converged spectrum (numerical aids, resources): two protocols
#: that differ only in these are one protocol
RUNTIME_ONLY = {"n_procs", "max_seconds", "restart_from_ground_state", "core_hole_gamma_only"}


def fidelity_of_settings(settings) -> str:
    """Fidelity label of a DFT protocol: a :class:`DFTSettings`, a preset name, or the JSON dict
    a dataset stores (fields it lacks count as production-v1's, the values they had before they
    existed; runtime-only fields are ignored)."""
    from amorphxas.core.dft_settings import PRESETS, DFTSettings

    if isinstance(settings, str):
        return PRESET_FIDELITY.get(settings, settings) if settings in PRESETS else "custom"
    if not settings:
        return UNKNOWN
    mine = settings.as_dict() if isinstance(settings, DFTSettings) else dict(settings)
    # a field the stored settings lack had the value it had before it existed: production-v1's
    oldest = json.loads(json.dumps(PRESETS["production-v1"].as_dict()))
    full = {**oldest, **json.loads(json.dumps(mine))}
    for name, preset in PRESETS.items():
        ref = json.loads(json.dumps(preset.as_dict()))
        if all(full.get(k) == v for k, v in ref.items() if k not in RUNTIME_ONLY):
            return PRESET_FIDELITY.get(name, name)
    return "custom"


def settings_fidelity(spectra_group) -> str:
    """Fidelity of the protocol named by an open ``/spectra`` group's ``settings`` attribute (the
    dataset's own protocol; :data:`UNKNOWN` before its first spectrum)."""
    return fidelity_of_settings(json_attr(spectra_group.attrs, "settings", {}))


def stored_fidelity(spectra_group) -> np.ndarray:
    """Fidelity of every row of an open ``/spectra`` group, shape (n_spec,) str (object).

    Rows without a stored label (older files, or an empty entry) get the fidelity of the group's
    ``settings`` attribute."""
    n = spectra_group["intensity"].shape[0]
    out = np.full(n, settings_fidelity(spectra_group), dtype=object)
    if "fidelity" in spectra_group:
        labels = as_texts(spectra_group["fidelity"][()])
        for k, label in enumerate(labels[:n]):
            if label:
                out[k] = label
    return out


def check_fidelity(key: str, fidelity: str, raw_extra: dict | None) -> None:
    """Refuse a v4 label on a spectrum that does not hold v4's chains (e.g. corrected Gamma)."""
    if not isinstance(fidelity, str) or not fidelity:
        raise DatasetError(f"spectrum {key}: fidelity must be a non-empty label, got {fidelity!r}")
    if fidelity != V4:
        return
    steps = None if raw_extra is None else raw_extra.get("lanczos_steps")
    n_k = np.asarray(steps).shape[1] if steps is not None and np.ndim(steps) == 2 else 0
    if n_k != V4_KPOINTS:
        raise DatasetError(f"spectrum {key}: labelled v4 but holds chains on {n_k} k-points, "
                           f"not the {V4_KPOINTS} fcc points of production-v4 (a corrected or "
                           "Gamma spectrum is not v4)")
