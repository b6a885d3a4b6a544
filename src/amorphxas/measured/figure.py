"""``invert --figure``: normalisation, data + fit + weighted components, residual."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amorphxas.measured.standards import LABELS


def plot_analysis(analysis, path: str | Path) -> Path:
    """Three panels (PNG at ``path``): (a) mu(E) with Larch's pre-edge and post-edge lines on the
    calibrated energy scale (eV), (b) normalised data, LCF fit and each valence's weighted
    component, (c) residual. Written all-or-nothing (temporary file, then rename)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from amorphxas.core.errors import AmorphxasError

    path = Path(path)
    norm, lcf, res = analysis.normalised, analysis.lcf, analysis.result
    fig, axes = plt.subplots(3, 1, figsize=(7, 9), gridspec_kw={"height_ratios": [2, 3, 1.2]})
    ax = axes[0]
    ax.plot(norm.energy, norm.mu, "k", lw=1, label="data")
    ax.plot(norm.energy, norm.pre_edge, "b--", lw=1, label="pre-edge line")
    ax.plot(norm.energy, norm.post_edge, "r--", lw=1, label="post-edge line")
    for e in norm.params["pre_edge_eV"]:
        ax.axvline(e, color="b", lw=0.5, alpha=0.4)
    for e in norm.params["post_edge_eV"]:
        ax.axvline(e, color="r", lw=0.5, alpha=0.4)
    ax.set_ylabel("mu (as measured)")
    ax.set_title(f"normalisation (Larch pre_edge, E0 {norm.params['e0']:.0f} eV, step {norm.edge_step:.3g})",
                 fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[1]
    background = lcf.fit - lcf.components.sum(axis=0)
    ax.plot(lcf.energy, lcf.data, "k.", ms=2, label="data (normalised)")
    ax.plot(lcf.energy, lcf.fit, "r", lw=1.5, label=f"fit (R {lcf.r_factor:.4f})")
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(LABELS)))
    for k, lab in enumerate(LABELS):
        if lcf.fractions[k] > 1e-3:
            ax.plot(lcf.energy, lcf.components[k] + background, color=colours[k], lw=1,
                    label=f"{lab} {100 * lcf.fractions[k]:.0f} +- {100 * lcf.fractions_std[k]:.0f} %")
    ax.plot(lcf.energy, background, color="grey", lw=0.8, ls=":", label="linear background")
    ax.set_ylabel("normalised mu")
    ax.set_title(f"mean valence {res['mean_valence']:.2f} +- {res['mean_valence_std']:.2f} "
                 f"({'calibrated' if res['calibrated'] else 'energy not calibrated'}, shift "
                 f"{res['energy_shift_eV']:+.2f} eV)", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[2]
    ax.plot(lcf.energy, lcf.data - lcf.fit, "k", lw=0.8)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel("residual")
    ax.set_xlabel("energy (eV, calibrated scale)")
    for a in axes[1:]:
        a.set_xlim(lcf.energy[0], lcf.energy[-1])
    fig.tight_layout()
    suffix = path.suffix if path.suffix else ".png"
    tmp = path.with_name(path.name + ".part" + suffix)
    try:
        fig.savefig(tmp, dpi=120, format=suffix.lstrip(".") or "png")
        tmp.replace(path)
    except (OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise AmorphxasError(f"{path}: cannot write the figure ({exc})") from None
    finally:
        plt.close(fig)
    return path
