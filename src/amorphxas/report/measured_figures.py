"""``invert --figure``: normalisation, data + fit + weighted components, residual (drawing only,
from :func:`amorphxas.measured.answer.analyse`'s result)."""

from __future__ import annotations

from pathlib import Path

from amorphxas.measured.standards import LABELS
from amorphxas.report.plotting import OKABE_ITO, VALENCE_COLOURS, figure, save, styled


@styled
def plot_analysis(analysis, path: str | Path) -> Path:
    """Three panels (PNG at ``path``): (a) mu(E) with Larch's pre-edge and post-edge lines on the
    calibrated energy scale (eV), (b) normalised data, LCF fit and each valence's weighted
    component, (c) residual. Format from the suffix of ``path`` (PNG, PDF or SVG); written
    all-or-nothing (temporary file, then rename)."""
    from amorphxas.core.errors import AmorphxasError

    path = Path(path)
    norm, lcf, res = analysis.normalised, analysis.lcf, analysis.result
    fig = figure(7.0, 8.6)
    axes = fig.subplots(3, 1, sharex=False, gridspec_kw={"height_ratios": [2, 3, 1.2]})
    ax = axes[0]
    ax.plot(norm.energy, norm.mu, "k", lw=1, label="data")
    ax.plot(norm.energy, norm.pre_edge, "--", color=OKABE_ITO[0], lw=1, label="pre-edge line")
    ax.plot(norm.energy, norm.post_edge, "--", color=OKABE_ITO[3], lw=1, label="post-edge line")
    for e in norm.params["pre_edge_eV"]:
        ax.axvline(e, color=OKABE_ITO[0], lw=0.5, alpha=0.4)
    for e in norm.params["post_edge_eV"]:
        ax.axvline(e, color=OKABE_ITO[3], lw=0.5, alpha=0.4)
    ax.set_ylabel("mu(E) (as measured)")
    ax.set_xlabel("energy (eV, calibrated scale)")
    ax.set_title(f"normalisation (Larch pre_edge, E0 {norm.params['e0']:.0f} eV, step {norm.edge_step:.3g})")
    ax.legend(frameon=False)
    ax = axes[1]
    background = lcf.fit - lcf.components.sum(axis=0)
    ax.plot(lcf.energy, lcf.data, "k.", ms=2, label="data (normalised)")
    ax.plot(lcf.energy, lcf.fit, color=OKABE_ITO[3], lw=1.5, label=f"fit (R {lcf.r_factor:.4f})")
    for k, lab in enumerate(LABELS):
        if lcf.fractions[k] > 1e-3:
            ax.plot(lcf.energy, lcf.components[k] + background, color=VALENCE_COLOURS[k % 5], lw=1,
                    label=f"{lab} {100 * lcf.fractions[k]:.0f} +- {100 * lcf.fractions_std[k]:.0f} %")
    ax.plot(lcf.energy, background, color="grey", lw=0.8, ls=":", label="linear background")
    ax.set_ylabel("normalised mu(E)")
    ax.set_title(f"mean valence {res['mean_valence']:.2f} +- {res['mean_valence_std']:.2f} "
                 f"({'calibrated' if res['calibrated'] else 'energy not calibrated'}, shift "
                 f"{res['energy_shift_eV']:+.2f} eV)")
    ax.legend(frameon=False)
    ax = axes[2]
    ax.plot(lcf.energy, lcf.data - lcf.fit, "k", lw=0.8)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel("residual")
    ax.set_xlabel("energy (eV, calibrated scale)")
    for a in axes[1:]:
        a.set_xlim(lcf.energy[0], lcf.energy[-1])
    suffix = path.suffix if path.suffix else ".png"
    tmp = path.with_name(path.name + ".part" + suffix)
    try:
        save(fig, tmp, svg_beside=False)
        tmp.replace(path)
    except (OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise AmorphxasError(f"{path}: cannot write the figure ({exc})") from None
    return path
