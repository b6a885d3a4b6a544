"""Networks for measured spectra: trained on site-spectrum mixtures, bounded, calibrated.

**Stable entry point for callers** (the ``invert`` command):

    predict_measured(model_dir, energy_eV, intensity, calibrated=True, shift_prior_eV=None) -> dict

``energy_eV`` (m,) eV and ``intensity`` (m,): a spectrum already normalised (edge step 1) and on
the model's absolute energy scale (``COMMON_GRID`` 1830-1880 eV or any finer grid covering it);
it is re-normalised exactly as in training (pre-edge mean 0, post-edge mean 1, idempotent).
``calibrated=False``: the energy scale was not calibrated against a reference; the prediction is
then averaged over shifts uniform in +-``shift_prior_eV`` (default :data:`SHIFT_PRIOR_EV`) and the
intervals widen by the spread. Returns (stable keys; floats in the units given):

- ``mean_valence``, ``mean_valence_std``, ``mean_valence_interval_68``, ``..._95`` ([lo, hi]):
  mean number of O neighbours, always within [0, 4];
- ``mean_charge_e``, ``mean_charge_e_std``, ``mean_charge_e_interval_68``/``_95``: mean Bader
  charge of Si (e), within :data:`CHARGE_RANGE_E`; None if the model directory has no charge model;
- ``rdf``: {``r_angstrom`` (256,), ``g`` (256,), ``std`` (256,)}: mean Si-centred RDF, >= 0 and
  <= the largest training value per bin; None without an RDF model;
- ``in_domain`` (bool), ``out_of_domain_reasons`` (list of str), ``domain_scores`` (dict);
- ``energy_calibrated`` (bool), ``shift_prior_eV`` (float, 0 when calibrated), ``warnings``,
  ``method`` (str), ``n_members`` (int).

Refusals (:class:`InverseInputError` / ``AmorphxasError``, one line, never a NaN value): NaN or
infinite input, too few points near the edge (spacing > :data:`MAX_SPACING_EV`), no positive edge
step, a model directory that is missing, of another format, or holds non-finite weights.

Training (:func:`train_measured`): site-spectrum mixtures (:mod:`.mixtures`) of the training cells
plus single sites, with beamline perturbations; the networks have sigmoid-bounded heads; intervals
are recalibrated (:mod:`.uncertainty`) on mixtures of separate calibration cells; the domain check
(:mod:`.domain`) uses the same split. Files: one ``nn.py`` model per target in ``DIR/<target>/``
(NPZ + JSON), ``DIR/measured.json`` (calibration, split, settings), ``DIR/domain.npz``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.persistence import check_format, read_arrays, read_header, save_npz_json
from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.inverse.domain import DomainCheck
from amorphxas.inverse.mixtures import Beamline, mix, perturb, renormalise, site_spectrum_mixtures
from amorphxas.inverse.nn import (
    CHARGE_RANGE_E,
    ESTIMATORS,
    VALENCE_RANGE,
    default_bounds,
    load_model,
    save_model,
)
from amorphxas.inverse.preprocess import FULL_WINDOW, InverseInputError, preprocess
from amorphxas.inverse.uncertainty import LEVELS, IntervalCalibration
from amorphxas.inverse.workflow import InverseData, load_inverse_data, split_indices

FORMAT = "amorphxas-measured-models"
FORMAT_VERSION = 1
SHIFT_PRIOR_EV = 1.5  # uniform +- prior of an uncalibrated energy scale (eV)
MAX_SPACING_EV = 1.0  # coarser sampling near the edge cannot resolve the 1-2 eV wide features
N_SHIFTS = 13
FAST = {"hidden": (128, 128), "max_epochs": 150, "patience": 15, "lr": 1e-3, "batch_size": 256,
        "weight_decay": 1e-5}
KEYS = {"valence": "mean_valence", "charge": "mean_charge_e"}


def measured_set(data: InverseData, sites, n: int, beamline: Beamline, seed: int,
                 with_sites: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Measured-like spectra (n', 256) and exact targets from the given site rows of ``data``:
    ``n`` site-spectrum mixtures (+ every single site once if ``with_sites``), perturbed."""
    sites = np.asarray(sites)
    W, _ = site_spectrum_mixtures(data.cell_id[sites], data.valence[sites], n, seed)
    if with_sites:
        W = np.vstack([W, np.eye(sites.size)])
    raw, y = mix(W, data.raw[sites], data.y[sites])
    if data.energy.shape == COMMON_GRID.shape and np.allclose(data.energy, COMMON_GRID):
        X = renormalise(raw)
    else:
        X = np.stack([preprocess(data.energy, row) for row in raw])
    X, _ = perturb(X, beamline, seed=seed + 7919)
    return X, y


def train_measured(dataset=None, targets=("valence", "charge", "rdf"), seed: int = 0,
                   exclude_cells=(), calib_fraction: float = 0.2, n_mix: int = 2000,
                   n_calib: int = 1500, beamline: Beamline = Beamline(), n_members: int = 5,
                   datas: dict | None = None, log=None, **params) -> MeasuredModels:
    """Train bounded ensembles on site-spectrum mixtures, calibrate intervals and domain check.

    Cells are split once (by the valence data): ``exclude_cells`` are never used (test cells of a
    benchmark); of the rest ``calib_fraction`` of the sites' cells (seeded) calibrate the intervals
    and the domain thresholds, the others train. ``n_mix`` / ``n_calib``: mixtures per target.
    ``params``: network hyper-parameters (default :data:`FAST`). ``datas``: preloaded
    {target: InverseData}.
    """
    datas = dict(datas or {})
    for target in targets:
        if target not in datas:
            datas[target] = load_inverse_data(dataset, target)
    ref = datas[targets[0]]
    usable = np.flatnonzero(~np.isin(ref.cell_id, list(exclude_cells)))
    tr, ca = split_indices(usable.size, ref.cell_id[usable], "cell", seed, calib_fraction)
    train_cells = sorted(set(ref.cell_id[usable][tr].tolist()))
    calib_cells = sorted(set(ref.cell_id[usable][ca].tolist()))
    hp = {**FAST, **params}
    out = MeasuredModels()
    out.models, out.calibration = {}, {}
    t0 = time.perf_counter()
    for k, target in enumerate(targets):
        data = datas[target]
        train = np.flatnonzero(np.isin(data.cell_id, train_cells))
        calib = np.flatnonzero(np.isin(data.cell_id, calib_cells))
        if train.size < 10 or calib.size < 2:
            raise AmorphxasError(f"{target}: {train.size} training / {calib.size} calibration sites "
                                 "after the cell split; the measured-spectrum models need >= 10 / 2")
        X, y = measured_set(data, train, n_mix, beamline, seed * 101 + k)
        Xc, yc = measured_set(data, calib, n_calib, beamline, seed * 101 + k + 50)
        model = ESTIMATORS[target](**hp, n_members=n_members, seed=seed, fit_baseline=False,
                                   bounds=default_bounds(target, data.y)).fit(X, y)
        mean, std = model.predict(Xc, return_std=True)
        out.models[target] = model
        out.calibration[target] = IntervalCalibration().fit(yc, mean, std)
        if k == 0:
            out.domain = DomainCheck().fit(X, Xc, seed=seed)
        if log:
            log(f"{target}: {X.shape[0]} training / {Xc.shape[0]} calibration spectra, "
                f"{time.perf_counter() - t0:.0f} s")
    out.info = {"targets": list(targets), "seed": seed, "train_cells": train_cells,
                "calibration_cells": calib_cells, "excluded_cells": sorted(map(str, exclude_cells)),
                "n_mix": n_mix, "n_calib": n_calib, "beamline": beamline.as_dict(),
                "hyper_parameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in hp.items()},
                "n_members": n_members, "train_seconds": round(time.perf_counter() - t0, 1),
                "source": str(ref.source)}
    return out


class MeasuredModels:
    """Bounded ensembles + interval calibration + domain check; see the module docstring."""

    models: dict
    calibration: dict
    domain: DomainCheck
    info: dict

    # ---- prediction ----
    def predict_normalised(self, X, shift_prior_eV: float = 0.0) -> dict[str, dict]:
        """Per target {'mean', 'std' (68 % half-width), 'lo68', 'hi68', 'lo95', 'hi95'} for
        normalised spectra X (n, 256); ``shift_prior_eV`` > 0 averages over shifts in +-prior."""
        X = renormalise(X)
        shifts = np.linspace(-shift_prior_eV, shift_prior_eV, N_SHIFTS) if shift_prior_eV > 0 \
            else np.zeros(1)
        shifted = [X if d == 0 else renormalise(np.stack([np.interp(COMMON_GRID + d, COMMON_GRID, x)
                                                           for x in X])) for d in shifts]
        out = {}
        for target, model in self.models.items():
            cal = self.calibration[target]
            runs = [model.predict(Xs, return_std=True) for Xs in shifted]
            means = np.stack([m for m, _ in runs])  # (n_shifts, n, ...)
            base = np.stack([cal.sigma(s) for _, s in runs])
            mean = means.mean(axis=0)
            spread = means.var(axis=0)
            lo_b, hi_b = model.bounds_
            res = {"mean": mean}
            for level, z in zip(LEVELS, (1.0, 1.96)):
                hw = np.sqrt(np.mean((cal.k_[level] * base) ** 2, axis=0) + z ** 2 * spread)
                res[f"lo{int(level * 100)}"] = np.clip(mean - hw, lo_b, hi_b)
                res[f"hi{int(level * 100)}"] = np.clip(mean + hw, lo_b, hi_b)
                if level == 0.68:
                    res["std"] = hw
            if not all(np.all(np.isfinite(v)) for v in res.values()):
                raise AmorphxasError(f"{target} model: non-finite prediction; the model is corrupt")
            out[target] = res
        return out

    def predict(self, energy_eV, intensity, calibrated: bool = True,
                shift_prior_eV: float | None = None) -> dict:
        """One spectrum -> the dict described in the module docstring."""
        energy = np.asarray(energy_eV, dtype=float)
        intensity = np.asarray(intensity, dtype=float)
        if energy.ndim == 1 and energy.size >= 2 and np.all(np.isfinite(energy)):
            near = energy[(energy >= FULL_WINDOW[0] - 1) & (energy <= FULL_WINDOW[1] + 1)]
            spacing = float(np.max(np.diff(near))) if near.size >= 2 else np.inf
            if spacing > MAX_SPACING_EV:
                raise InverseInputError(
                    f"spectrum has {near.size} points in {FULL_WINDOW[0]:.0f}-{FULL_WINDOW[1]:.0f} eV "
                    f"(largest step {spacing:.2f} eV); the models need steps <= {MAX_SPACING_EV} eV")
        x = preprocess(energy, intensity)
        prior = 0.0 if calibrated else float(SHIFT_PRIOR_EV if shift_prior_eV is None else shift_prior_eV)
        if not (np.isfinite(prior) and 0 <= prior <= 10):
            raise InverseInputError(f"shift prior {shift_prior_eV} eV: must be within 0-10 eV")
        pred = self.predict_normalised(x, prior)
        in_domain, reasons, scores = self.domain.check(x)
        result: dict = {"method": "network ensemble trained on site-spectrum mixtures of DFT site "
                                  "spectra with beamline perturbations; intervals calibrated on "
                                  "held-out cells",
                        "n_members": len(next(iter(self.models.values())).members_)}
        for target, key in KEYS.items():
            p = pred.get(target)
            result[key] = None if p is None else float(p["mean"][0])
            result[f"{key}_std"] = None if p is None else float(p["std"][0])
            for level in (68, 95):
                result[f"{key}_interval_{level}"] = None if p is None else \
                    [float(p[f"lo{level}"][0]), float(p[f"hi{level}"][0])]
        p = pred.get("rdf")
        result["rdf"] = None if p is None else {
            "r_angstrom": np.linspace(0.0, 5.0, p["mean"].shape[1]).tolist(),
            "g": p["mean"][0].tolist(), "std": p["std"][0].tolist()}
        warnings = []
        if not calibrated:
            warnings.append(f"energy not calibrated: prediction averaged over shifts within "
                            f"+-{prior:.1f} eV, the valence is less certain")
        if not in_domain:
            warnings.append("outside the training domain: " + "; ".join(reasons))
        result.update(in_domain=bool(in_domain), out_of_domain_reasons=reasons,
                      domain_scores=scores, energy_calibrated=bool(calibrated),
                      shift_prior_eV=prior, warnings=warnings)
        return result

    # ---- files ----
    def save(self, directory: str | Path) -> Path:
        """Write ``directory/<target>/model.{npz,json}``, ``domain.npz``, ``measured.json``."""
        directory = Path(directory)
        for target, model in self.models.items():
            save_model(model, directory / target, extra={"measured": True})
        header = {"format": FORMAT, "format_version": FORMAT_VERSION,
                  "targets": sorted(self.models),
                  "calibration": {t: c.as_dict() for t, c in self.calibration.items()},
                  "info": self.info, "shift_prior_eV": SHIFT_PRIOR_EV,
                  "ranges": {"valence": VALENCE_RANGE, "charge_e": CHARGE_RANGE_E}}
        save_npz_json(directory / "domain.npz", directory / "measured.json", self.domain.arrays(), header)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> MeasuredModels:
        directory = Path(directory)
        path = directory / "measured.json"
        if not path.is_file():
            raise AmorphxasError(f"{directory}: not a measured-spectrum model directory "
                                 "(no measured.json; train one with `amorphxas train measured`)")
        header = read_header(path)
        check_format(header, path, FORMAT, versions=(FORMAT_VERSION,), what="measured-models file")
        self = cls()
        self.models = {t: load_model(directory / t) for t in header["targets"]}
        self.calibration = {t: IntervalCalibration.from_dict(header["calibration"][t])
                            for t in header["targets"]}
        self.domain = DomainCheck.from_arrays(read_arrays(directory / "domain.npz", finite=True))
        self.info = header.get("info", {})
        return self


def predict_measured(model_dir: str | Path, energy_eV, intensity, calibrated: bool = True,
                     shift_prior_eV: float | None = None) -> dict:
    """Mean valence, mean Bader charge, RDF (with calibrated intervals) and an out-of-domain flag
    for one normalised spectrum; see the module docstring for the arguments and the keys."""
    return MeasuredModels.load(model_dir).predict(energy_eV, intensity, calibrated, shift_prior_eV)
