"""One answer a user can act on: a measured spectrum -> Si0..Si4+ fractions, mean valence, mean
Bader charge, each with its uncertainty and the method behind it, fit quality and warnings.

Steps: read (:mod:`.io`), calibrate against measured references (:mod:`.calibrate`), normalise
(:mod:`.normalise`), LCF with the per-valence DFT standards (:mod:`.lcf`), and, with a model
directory, the networks (:func:`network_predictions`, the only place that calls them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from amorphxas.measured.calibrate import Calibration, calibrate
from amorphxas.measured.io import MeasuredInputError, MeasuredSpectrum, read_measured
from amorphxas.measured.lcf import LCFResult, fit_lcf
from amorphxas.measured.normalise import Normalised, normalise
from amorphxas.measured.standards import LABELS, Standards, build_standards

SHIFT_PRIOR_EV = 1.5  # uniform +- prior of the residual shift without a reference (eV)
R_FACTOR_OOD = 0.02  # LCF R-factor above this: the spectrum is not a mixture of the standards
R_FACTOR_FUNCTIONAL = 0.05  # above this the linear functional (a linear extrapolation from
# mixtures of the standards' sites) is not used: free LCF fractions and their mean valence
AMPLITUDE_RANGE = (0.7, 1.3)  # sum of the raw LCF weights (edge-step ratio) expected near 1
LCF_METHOD = ("linear-combination fit with the per-valence DFT standards (mean of the dataset's "
              "real site spectra), weighted by the standards' site-to-site covariance (GLS); "
              "uncertainty = fit covariance + energy-scale sensitivity + bootstrap over site spectra")
LCF_CONSTRAINED = "; constrained to sum_n n f_n = the linear functional's mean valence"
MV_METHOD = ("linear functional of the spectrum (ridge regression on mixtures of the standards' site "
             "spectra; std = its cross-validated error on held-out cells + energy-scale sensitivity)")
MV_LCF_METHOD = "LCF: sum_n n f_n of the fitted fractions"
FRACTIONS_LINEAR_METHOD = (
    "linear functional of the spectrum (multi-output ridge regression on convex combinations of the "
    "standards' real site spectra with 0-1 eV extra broadening; read on the spectrum with the LCF's "
    "background and edge-step ratio removed; projected onto the simplex with sum_n n f_n = the mean "
    "valence; std = its cross-validated error on held-out cells + energy-scale sensitivity)")
FRACTION_ESTIMATORS = ("linear", "lcf-constrained", "lcf")  # default first


@dataclass
class Analysis:
    """Everything :func:`analyse` computed: ``result`` (JSON-ready dict) and arrays for the figure."""

    result: dict
    spectrum: MeasuredSpectrum
    normalised: Normalised
    lcf: LCFResult
    standards: Standards
    calibration: Calibration


def load_network(model_dir: str | Path):
    """Load the networks of ``model_dir`` (checked before any long work): a measured-models
    directory (``measured.json``, :mod:`amorphxas.inverse.mixture_models`) or an older
    single-target model directory (:func:`amorphxas.inverse.load_model`)."""
    model_dir = Path(model_dir)
    if (model_dir / "measured.json").is_file():
        from amorphxas.inverse.mixture_models import MeasuredModels

        return "measured", MeasuredModels.load(model_dir)
    from amorphxas.inverse import load_model

    return "single", load_model(model_dir)


def network_predictions(network, energy: np.ndarray, norm: np.ndarray, calibrated: bool) -> dict:
    """The networks' answer for a normalised spectrum (energy (m,) eV on the theory scale); the
    only place the networks are called. ``network``: :func:`load_network`'s result.

    Returns {'mean_valence', 'mean_valence_std', 'mean_charge_e', 'mean_charge_e_std',
    'in_domain', 'warnings', 'method'} (None where the directory has no such model).
    """
    kind, model = network
    if kind == "measured":
        out = model.predict(energy, norm, calibrated=calibrated)
        return {k: out.get(k) for k in ("mean_valence", "mean_valence_std", "mean_charge_e",
                                        "mean_charge_e_std", "in_domain", "warnings", "method")}
    from amorphxas.inverse import invert_spectrum

    out = invert_spectrum(model, energy, norm)
    scalar = bool(model.scalar_)
    target = out["target"]
    pick = {t: (out["value"] if scalar and target == t else None,
                out["std"] if scalar and target == t else None) for t in ("valence", "charge")}
    return {"mean_valence": pick["valence"][0], "mean_valence_std": pick["valence"][1],
            "mean_charge_e": pick["charge"][0], "mean_charge_e_std": pick["charge"][1],
            "in_domain": None, "warnings": ["single-site model: its +- is an ensemble spread, not a "
                                            "calibrated interval"],
            "method": f"{target} network ensemble ({out['n_members']} members, single-site model)"}


def _lcf_on(spectrum: MeasuredSpectrum, cal: Calibration, standards: Standards, n_boot: int,
            seed: int, extra_shift: float, constrain: bool = True,
            use_linear: bool = True, linear_fractions: bool = False) -> tuple[Normalised, LCFResult]:
    energy = cal.apply(spectrum.energy) + extra_shift
    norm = normalise(energy, spectrum.mu, source=spectrum.source)
    lcf = fit_lcf(energy, norm.norm, standards.mean, standards.energy, standards.sites,
                  shift_prior=None if cal.calibrated else SHIFT_PRIOR_EV,
                  shift_std_fixed=cal.shift_std, noise=norm.noise, n_boot=n_boot, seed=seed,
                  source=spectrum.source, linear=standards.linear_valence() if use_linear else None,
                  constrain_mean_valence=constrain,
                  fractions_linear=standards.linear_fractions() if linear_fractions and use_linear
                  else None)
    return norm, lcf


def analyse(spectrum: str | Path | MeasuredSpectrum, model_dir: str | Path | None = None,
            references: list[tuple] = (), columns: str | None = None,
            dataset: str | Path | None = None, standards: Standards | None = None,
            n_boot: int = 100, seed: int = 0, energy_shift: float = 0.0,
            constrain_mean_valence: bool = True, fractions: str | None = None) -> Analysis:
    """The whole measured-spectrum analysis (module docstring).

    The mean valence is the linear functional's (:mod:`.linear_mv`). ``fractions``: 'linear'
    (default: the fractions functional, :mod:`.linear_fractions`, projected onto the simplex with
    sum_n n f_n = the mean valence), 'lcf-constrained' (the LCF fitted with sum_n n f_n = the mean
    valence) or 'lcf' (free LCF fractions; their own sum_n n f_n is ``mean_valence_lcf``).
    ``constrain_mean_valence=False`` without ``fractions`` means 'lcf'.

    ``references``: (path or MeasuredSpectrum, material) pairs, material 'alpha-quartz' or
    'silicon'; ``energy_shift``: eV added to the sample's (and references') energies first.
    """
    from amorphxas.dataset import embedded_path

    if fractions is None:
        fractions = FRACTION_ESTIMATORS[0] if constrain_mean_valence else "lcf"
    if fractions not in FRACTION_ESTIMATORS:
        raise MeasuredInputError(f"fractions estimator {fractions!r}: use one of "
                                 f"{', '.join(FRACTION_ESTIMATORS)}")
    constrain_mean_valence = fractions == "lcf-constrained"
    use_lf = fractions == "linear"
    dataset = Path(dataset) if dataset is not None else embedded_path()
    network = load_network(model_dir) if model_dir is not None else None
    sample = spectrum if isinstance(spectrum, MeasuredSpectrum) else read_measured(spectrum, columns)
    if not np.isfinite(energy_shift):
        raise MeasuredInputError(f"--energy-shift {energy_shift}: must be a finite number of eV")
    refs = []
    for ref, material in references:
        spec = ref if isinstance(ref, MeasuredSpectrum) else read_measured(ref, columns)
        refs.append((MeasuredSpectrum(spec.energy + energy_shift, spec.mu, spec.source), material))
    cal = calibrate(refs, dataset)
    standards = standards if standards is not None else build_standards(dataset)
    norm, lcf = _lcf_on(sample, cal, standards, n_boot, seed, energy_shift, constrain_mean_valence,
                        linear_fractions=use_lf)
    warnings: list[str] = []
    use_linear = lcf.r_factor <= R_FACTOR_FUNCTIONAL
    if not use_linear:
        warnings.append(f"linear functional not used: the R-factor {lcf.r_factor:.3f} exceeds "
                        f"{R_FACTOR_FUNCTIONAL}, far outside the mixtures it was trained on; mean "
                        "valence and fractions from the free LCF")
        norm, lcf = _lcf_on(sample, cal, standards, n_boot, seed, energy_shift, False, False)
    one_point_delta = None
    if len(cal.fits) == 2:
        quartz = next(f for f in cal.fits if f.material == "alpha-quartz")
        one = Calibration(method="one-point (alpha-quartz)", offset=quartz.shift,
                          shift_std=quartz.shift_std, fits=[quartz])
        _, lcf_one = _lcf_on(sample, one, standards, 0, seed, energy_shift, constrain_mean_valence,
                             use_linear, use_lf)
        one_point_delta = lcf.mean_valence()[0] - lcf_one.mean_valence()[0]
    if not cal.calibrated:
        warnings.append(f"energy not calibrated: shift fitted within +-{SHIFT_PRIOR_EV:g} eV, its "
                        "prior std propagated; the valence is less certain (give --reference)")
    out_of_domain = False
    if lcf.r_factor > R_FACTOR_OOD:
        out_of_domain = True
        warnings.append(f"outside the training domain: the LCF R-factor {lcf.r_factor:.3f} exceeds "
                        f"{R_FACTOR_OOD}; the spectrum is not a mixture of the Si0..Si4+ standards")
    if not AMPLITUDE_RANGE[0] <= lcf.amplitude <= AMPLITUDE_RANGE[1]:
        out_of_domain = True
        warnings.append(f"edge step of the fit {lcf.amplitude:.2f} x the data's: normalisation or "
                        "standards do not match (outside the training domain)")
    for what in lcf.at_bound:
        warnings.append(f"the fitted {what} reached its bound; check the energy scale/resolution")
    mv, mv_std = lcf.mean_valence()
    mv_lcf, mv_lcf_std = lcf.moment(np.arange(lcf.fractions.size))
    mv_method = MV_METHOD if lcf.mean_valence_linear is not None else MV_LCF_METHOD
    frac_method = LCF_METHOD + (LCF_CONSTRAINED if lcf.mean_valence_constrained else "")
    frac, frac_cov = lcf.fractions, lcf.cov
    frac_name = "LCF constrained to the mean valence" if lcf.mean_valence_constrained else "LCF"
    if lcf.fractions_linear is not None:
        frac, frac_cov = lcf.fractions_linear, lcf.fractions_linear_cov
        frac_method, frac_name = FRACTIONS_LINEAR_METHOD, "linear functional"
    frac_std = np.sqrt(np.clip(np.diag(frac_cov), 0.0, None))
    tied = lcf.mean_valence_constrained or (lcf.fractions_linear is not None
                                            and lcf.mean_valence_linear is not None)
    q = standards.charge_mean
    q_mean, q_std = (None, None)
    if np.all(np.isfinite(q)):
        q_mean, q_cov_std = float(frac @ q), float(np.sqrt(max(q @ frac_cov @ q, 0.0)))
        q_std = float(np.hypot(q_cov_std, np.sqrt(np.sum((frac * standards.charge_sem) ** 2))))
    result = {
        "spectrum": sample.source,
        "fractions": {lab: float(f) for lab, f in zip(LABELS, frac)},
        "fractions_std": {lab: float(s) for lab, s in zip(LABELS, frac_std)},
        "fractions_method": frac_method,
        "fractions_constrained_to_mean_valence": bool(tied),
        "fractions_lcf": {lab: float(f) for lab, f in zip(LABELS, lcf.fractions)},
        "mean_valence": mv, "mean_valence_std": mv_std,
        "mean_valence_method": mv_method,
        "mean_valence_linear_functional": lcf.mean_valence_linear,
        "mean_valence_lcf": mv_lcf, "mean_valence_lcf_std": mv_lcf_std,
        "mean_bader_charge": q_mean, "mean_bader_charge_std": q_std,
        "mean_bader_charge_method": f"{frac_name.split(' constrained')[0]}: sum_n f_n <q>_n with the dataset's mean Bader "
                                    "charge per valence" if q_mean is not None else None,
        "methods": {"fractions": frac_name, "mean_valence": "linear functional" if
                    lcf.mean_valence_linear is not None else "LCF",
                    "mean_bader_charge": None if q_mean is None else
                    ("linear functional" if lcf.fractions_linear is not None else "LCF")},
        "energy_shift_eV": float(cal.shift_at() + energy_shift + lcf.shift),
        "energy_shift_std_eV": float(lcf.shift_std),
        "calibrated": cal.calibrated,
        "calibration": {"method": cal.method, "offset_eV": cal.offset, "scale": cal.scale,
                        "references": [{"material": f.material, "file": f.source, "shift_eV": f.shift,
                                        "shift_std_eV": f.shift_std, "anchor_eV": f.anchor,
                                        "r_factor": f.r_factor} for f in cal.fits],
                        "two_point_minus_one_point_mean_valence": one_point_delta},
        "extra_broadening_eV": lcf.sigma,
        "fit": {"r_factor": lcf.r_factor, "reduced_chi2": lcf.reduced_chi2, "n_points": lcf.n_points,
                "noise": lcf.noise, "edge_step_ratio": lcf.amplitude,
                "residual_correlation_points": lcf.tau, "weighting": lcf.weighting,
                "window_eV": [float(lcf.energy[0]), float(lcf.energy[-1])]},
        "normalisation": {"larch": "xafs.pre_edge.preedge", **norm.params,
                          "edge_step": norm.edge_step, "e0_found_eV": norm.e0_found},
        "standards": {"dataset": standards.source,
                      "site_spectra": dict(zip(LABELS, standards.count.tolist()))},
        "network": None,
        "out_of_domain": out_of_domain,
        "warnings": warnings,
    }
    if network is not None:
        grid = standards.energy
        x = np.interp(grid, norm.energy + lcf.shift, norm.norm)
        edge_tol = 0.5  # eV of the model grid the data may miss at either end (held flat)
        covered = (norm.energy[0] + lcf.shift <= grid[0] + edge_tol
                   and norm.energy[-1] + lcf.shift >= grid[-1] - edge_tol)
        if not covered:
            warnings.append(f"network skipped: the spectrum does not cover {grid[0]:.0f}-{grid[-1]:.0f} eV "
                            "on the calibrated scale")
        else:
            net = network_predictions(network, grid, x, cal.calibrated)
            result["network"] = net
            warnings.extend(f"network: {w}" for w in (net.get("warnings") or []))
            if net.get("in_domain") is False:
                result["out_of_domain"] = True
    return Analysis(result=result, spectrum=sample, normalised=norm, lcf=lcf, standards=standards,
                    calibration=cal)


def format_text(result: dict) -> str:
    """The short table in words for the terminal."""
    f, s = result["fractions"], result["fractions_std"]
    method = result["calibration"]["method"]
    lines = [f"{result['spectrum']}: Si K-edge, energy calibration: {'none' if method == 'none' else method} "
             f"(shift {result['energy_shift_eV']:+.2f} +- {result['energy_shift_std_eV']:.2f} eV)"]
    methods = result.get("methods") or {}
    tied = ", constrained to the mean valence" if result.get("fractions_constrained_to_mean_valence") else ""
    how = ("linear functional of the spectrum" if methods.get("fractions") == "linear functional"
           else "LCF with DFT standards")
    lines.append(f"Si valence fractions ({how}{tied}):")
    lines.extend(f"  {lab:5s} {100 * f[lab]:5.1f} +- {100 * s[lab]:4.1f} %" for lab in f)
    lines.append(f"mean valence        {result['mean_valence']:.2f} +- {result['mean_valence_std']:.2f}"
                 f"   ({methods.get('mean_valence', 'LCF')})")
    if result.get("mean_valence_linear_functional") is not None and not result.get(
            "fractions_constrained_to_mean_valence"):
        lines.append(f"mean valence        {result['mean_valence_lcf']:.2f} +- "
                     f"{result['mean_valence_lcf_std']:.2f}   (LCF fractions, unconstrained)")
    if result["mean_bader_charge"] is not None:
        lines.append(f"mean Bader charge   {result['mean_bader_charge']:.2f} +- "
                     f"{result['mean_bader_charge_std']:.2f} e (fractions x per-valence mean charge)")
    net = result.get("network")
    if net:
        if net.get("mean_valence") is not None:
            lines.append(f"mean valence        {net['mean_valence']:.2f} +- {net['mean_valence_std']:.2f}"
                         f"   (network: {net['method']})")
        if net.get("mean_charge_e") is not None:
            lines.append(f"mean Bader charge   {net['mean_charge_e']:.2f} +- {net['mean_charge_e_std']:.2f} e"
                         "   (network)")
    fit = result["fit"]
    lines.append(f"fit: R-factor {fit['r_factor']:.4f}, reduced chi-square {fit['reduced_chi2']:.2f} "
                 f"({fit['n_points']} points, {fit['window_eV'][0]:.1f}-{fit['window_eV'][1]:.1f} eV), "
                 f"extra broadening {result['extra_broadening_eV']:.2f} eV")
    delta = result["calibration"]["two_point_minus_one_point_mean_valence"]
    if delta is not None:
        lines.append(f"two-point calibration used; it moves the mean valence by {delta:+.2f} against "
                     "the quartz-only shift")
    lines.extend(f"warning: {w}" for w in result["warnings"])
    lines.append(summary_sentence(result))
    return "\n".join(lines)


def summary_sentence(result: dict) -> str:
    """One plain sentence: mean valence, calibration, the main fractions, fit quality, warnings."""
    method = result["calibration"]["method"]
    if method == "none":
        cal = (f"energy not calibrated, shift fitted {result['energy_shift_eV']:+.1f} +- "
               f"{result['energy_shift_std_eV']:.1f} eV")
    else:
        cal = f"energy calibrated, {method}"
    f, s = result["fractions"], result["fractions_std"]
    main = sorted(f, key=f.get, reverse=True)[:2]
    parts = ", ".join(f"{lab} {100 * f[lab]:.0f} +- {100 * s[lab]:.0f} %" for lab in main)
    r = result["fit"]["r_factor"]
    quality = "good" if r < 0.005 else ("fair" if r < R_FACTOR_OOD else "poor")
    n_warn = len(result["warnings"])
    warn = f"; {n_warn} warning{'s' if n_warn != 1 else ''} above" if n_warn else ""
    return (f"In words: mean valence {result['mean_valence']:.2f} +- {result['mean_valence_std']:.2f} "
            f"({cal}); largest fractions {parts}; {quality} fit (R-factor {r:.4f}){warn}.")
