"""Per-valence theoretical standards: mean and spread of the dataset's real DFT site spectra.

For each valence n = 0..4 (number of O neighbours of the absorbing Si) the standard is the mean
of the normalised site spectra of that valence (:mod:`amorphxas.measured.normalise`, one common
edge step so that fractions are fractions of Si atoms). The site spectra themselves are kept for
the bootstrap of the fit uncertainty. The per-valence mean Bader charge (all sites of the
dataset with a charge) turns fractions into a mean charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from amorphxas.core.errors import AmorphxasError
from amorphxas.measured.normalise import normalise

VALENCES = np.arange(5)
LABELS = [f"Si{n}+" for n in VALENCES]


@dataclass
class Standards:
    """energy (m,) eV; mean/std (5, m) normalised; sites[n] (n_n, m); charge_* (5,) e."""

    energy: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray
    sites: list
    cell_ids: list
    charge_mean: np.ndarray
    charge_sem: np.ndarray
    charge_count: np.ndarray
    common_step: float
    source: str

    def linear_valence(self):
        """The mean-valence linear functional trained on these standards' site spectra
        (:func:`amorphxas.measured.linear_mv.train_linear_valence` on the grid points inside the
        LCF window), trained once and kept."""
        cached = getattr(self, "_linear", None)
        if cached is None:
            from amorphxas.measured.lcf import FIT_WINDOW
            from amorphxas.measured.linear_mv import train_linear_valence

            inside = (self.energy >= FIT_WINDOW[0]) & (self.energy <= FIT_WINDOW[1])
            cached = train_linear_valence(self.energy, self.sites, self.cell_ids, self.energy[inside])
            self._linear = cached
        return cached

    def linear_fractions(self):
        """The Si0..Si4+ fractions functional trained on these standards' site spectra
        (:func:`amorphxas.measured.linear_fractions.train_linear_fractions`, on the common edge
        step, on the grid points inside the LCF window), trained once and kept."""
        cached = getattr(self, "_linear_fractions", None)
        if cached is None:
            from amorphxas.measured.lcf import FIT_WINDOW
            from amorphxas.measured.linear_fractions import train_linear_fractions

            inside = (self.energy >= FIT_WINDOW[0]) & (self.energy <= FIT_WINDOW[1])
            cached = train_linear_fractions(self.energy, self.sites, self.cell_ids,
                                            self.energy[inside], own_step=False)
            self._linear_fractions = cached
        return cached

    def resampled(self, rng: np.random.Generator) -> np.ndarray:
        """Bootstrap standards (5, m): each mean over its sites drawn with replacement."""
        return np.stack([s[rng.integers(0, len(s), len(s))].mean(axis=0) for s in self.sites])


def normalise_rows(energy: np.ndarray, raw: np.ndarray,
                   step: float | None = None) -> tuple[np.ndarray, float]:
    """Normalise site spectra (n, m) with one common edge step (that of their mean, unless given)."""
    if step is None:
        step = normalise(energy, raw.mean(axis=0), source="mean site spectrum").edge_step
    rows = np.stack([normalise(energy, r, step=step, check_edge=False).norm for r in raw])
    return rows, float(step)


def build_standards(dataset: str | Path | None = None, exclude_cells=(), only_cells=None) -> Standards:
    """Standards from the dataset's site spectra (default: the embedded dataset).

    ``exclude_cells``: cells whose sites are left out (held-out benchmark); ``only_cells``: use only
    these. Refuses (one line) when a valence has fewer than 2 site spectra.
    """
    from amorphxas.dataset import Dataset, embedded_path

    data = Dataset.open(dataset if dataset is not None else embedded_path())
    path = data.path
    sites = data.sites
    spectra = data.spectra()
    rows = data.site_rows(spectra)
    keep = rows >= 0
    keep &= ~np.isin(spectra.cell_id, list(exclude_cells))
    if only_cells is not None:
        keep &= np.isin(spectra.cell_id, list(only_cells))
    valence = sites.valence[rows[keep]]
    raw = spectra.intensity[keep]
    norm, step = normalise_rows(spectra.energy, raw)
    per = [norm[valence == n] for n in VALENCES]
    short = [LABELS[n] for n in VALENCES if len(per[n]) < 2]
    if short:
        raise AmorphxasError(f"{path}: fewer than 2 site spectra for {', '.join(short)}; cannot build "
                             "per-valence standards")
    use = ~np.isin(sites.cell_id, list(exclude_cells))
    if only_cells is not None:
        use &= np.isin(sites.cell_id, list(only_cells))
    q = np.where(use, sites.bader_charge, np.nan)
    charge_mean = np.array([np.nanmean(q[sites.valence == n]) if np.isfinite(q[sites.valence == n]).any()
                            else np.nan for n in VALENCES])
    charge_count = np.array([int(np.isfinite(q[sites.valence == n]).sum()) for n in VALENCES])
    charge_sem = np.array([np.nanstd(q[sites.valence == n]) / np.sqrt(max(c, 1)) if c else np.nan
                           for n, c in zip(VALENCES, charge_count)])
    cell_ids = [spectra.cell_id[keep][valence == n] for n in VALENCES]
    return Standards(energy=np.asarray(spectra.energy, float), mean=np.stack([p.mean(0) for p in per]),
                     std=np.stack([p.std(0, ddof=1) for p in per]),
                     count=np.array([len(p) for p in per]), sites=per, cell_ids=cell_ids,
                     charge_mean=charge_mean, charge_sem=charge_sem, charge_count=charge_count,
                     common_step=step, source=str(path))


def export_standards(standards: Standards, out: str | Path) -> list[Path]:
    """Write the standards as CSV readable by Athena/Larch (``read_ascii``): one file per valence
    ``si<n>_standard.csv`` (energy_eV, mu_norm, std) and ``standards.csv`` (all means and stds).
    Refuses (one line) when ``out`` exists and is not a directory or cannot be written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AmorphxasError(f"{out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AmorphxasError(f"{out}: cannot create the directory ({exc.strerror})") from None
    header = (f"# amorphxas per-valence Si K-edge standards (DFT site spectra) from {standards.source}\n"
              "# normalised with Larch pre_edge: e0=1845 eV, pre-edge line <= 1833 eV, post-edge line "
              "1865-1880 eV, one common edge step (fractions = fractions of Si atoms)\n")
    written = []
    for n, label in enumerate(LABELS):
        path = out / f"si{n}_standard.csv"
        text = header + (f"# {label}: mean of {standards.count[n]} site spectra; mean Bader charge "
                         f"{standards.charge_mean[n]:.4f} e ({standards.charge_count[n]} sites)\n"
                         "# energy_eV,mu_norm,std\n")
        rows = np.column_stack([standards.energy, standards.mean[n], standards.std[n]])
        text += "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows) + "\n"
        written.append(_write(path, text))
    names = ",".join([f"{lab}_mean" for lab in LABELS] + [f"{lab}_std" for lab in LABELS])
    counts = ", ".join(f"{lab} {c}" for lab, c in zip(LABELS, standards.count))
    text = header + f"# site spectra per valence: {counts}\n# energy_eV,{names}\n"
    rows = np.column_stack([standards.energy, standards.mean.T, standards.std.T])
    text += "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows) + "\n"
    written.append(_write(out / "standards.csv", text))
    return written


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AmorphxasError(f"{path}: cannot write ({exc.strerror})") from None
    return path
