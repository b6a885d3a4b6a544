"""Dataset -> trained forward model, saved as NPZ + JSON; prediction for new (large) cells;
active-learning site lists for the DFT campaign.

Pipeline of a :class:`ForwardModel`: raw descriptor (kind, preset) -> standardise + PCA (99.9 %
of the variance, :func:`amorphxas.descriptors.fit_pca`, fitted on the whole pool of Si sites of
the dataset as in study 1, which needs no spectra) -> :class:`RidgeSpectrum` -> spectrum in
study 1's normalisation (the maximum of the mean Si4+ spectrum of the dataset = 1; ``scale`` is
the factor the stored intensities were divided by).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from amorphxas.core.persistence import (
    check_format,
    read_arrays,
    read_header,
    save_npz_json,
    stem_files,
    write_header,
)
from amorphxas.core.validation import check_matrix
from amorphxas.dataset.testset import is_test_reserved
from amorphxas.descriptors.pipeline import _ARRAYS as _PCA_ARRAYS
from amorphxas.descriptors.pipeline import PCAPipeline
from amorphxas.forward.active import select_with_test_reserve, write_sites
from amorphxas.forward.metrics import (
    forward_metrics,
    valence_mean_baseline,
)
from amorphxas.forward.pool import (  # noqa: F401  (the pool's names, re-exported from here)
    MIN_SITES,
    Pool,
    check_grid,
    descriptor_sidecar,
    labelled_rows,
    load_pool,
    make_split,
)
from amorphxas.forward.ridge import ForwardError, RidgeSpectrum
from amorphxas.sites.analysis import MAX_VALENCE

FORMAT = "amorphxas.forward.ridge/1"


# ---------------------------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------------------------
@dataclass
class ForwardModel:
    estimator: RidgeSpectrum
    pca: PCAPipeline
    energy: np.ndarray
    scale: float = 1.0
    header: dict = field(default_factory=dict)

    def features(self, X_raw) -> np.ndarray:
        X_raw = check_matrix(X_raw, "descriptors", n_columns=self.pca.n_features, columns="features",
                             hint=f" (the model's {self.header.get('kind')} "
                                  f"({self.header.get('preset')}))", error=ForwardError)
        return self.pca.transform(X_raw)

    def predict(self, X_raw, return_std: bool = False, chunk: int = 4096):
        """Normalised spectra (n, n_energy) of raw descriptor rows [and their predictive std]."""
        X_raw = np.asarray(X_raw)
        outs, stds = [], []
        for s in range(0, max(X_raw.shape[0], 1), chunk):
            Z = self.features(X_raw[s:s + chunk])
            if return_std:
                y, sd = self.estimator.predict(Z, return_std=True)
                outs.append(y)
                stds.append(sd)
            else:
                outs.append(self.estimator.predict(Z))
        Y = np.concatenate(outs)
        return (Y, np.concatenate(stds)) if return_std else Y

    def domain_check(self, X_raw) -> dict:
        """Flag sites outside the training distribution: leverage above the largest training
        leverage (the model extrapolates: with few labelled sites, most new sites), and
        Mahalanobis distance in the first descriptor PCs above the largest one of the dataset's
        own Si sites (the local environment is unlike any in the DFT cells; study 1 Fig. 12b)."""
        Z = self.features(X_raw)
        lev = self.estimator.leverage(Z)
        domain = self.header["domain"]
        k = int(domain["n_pcs"])
        mean, var = np.asarray(domain["mean"], float), np.asarray(domain["var"], float)
        maha = np.sqrt(np.sum((Z[:, :k] - mean) ** 2 / var, axis=1))
        return {"n_sites": int(Z.shape[0]),
                "n_outside_leverage": int(np.sum(lev > self.estimator.train_leverage_max_)),
                "n_outside_mahalanobis": int(np.sum(maha > domain["mahalanobis_max"])),
                "leverage": lev, "mahalanobis": maha,
                "pc": Z[:, :2]}

    # -- disk ----------------------------------------------------------------------------------
    def save(self, stem) -> tuple[Path, Path]:
        """``<stem>.npz`` (arrays) + ``<stem>.json`` (header), atomically; loading runs no code
        (:mod:`amorphxas.core.persistence`)."""
        npz, js = stem_files(stem, folder=False)
        ridge_arrays, ridge_header = self.estimator.to_arrays()
        arrays = {f"ridge_{k}": v for k, v in ridge_arrays.items()}
        arrays.update({f"pca_{k}": np.asarray(getattr(self.pca, k), np.float64) for k in _PCA_ARRAYS})
        arrays["energy"] = np.asarray(self.energy, np.float64)
        header = dict(self.header)
        header.update({"format": FORMAT, "scale": float(self.scale), "ridge": ridge_header,
                       "pca": self.pca.header, "arrays": npz.name})
        return save_npz_json(npz, js, arrays, header, sort_keys=True, error=ForwardError)

    @classmethod
    def load(cls, stem) -> ForwardModel:
        given = Path(stem)
        npz, js = stem_files(given)
        if not js.exists():
            where = ("a folder without model.json" if given.is_dir() else "no such model folder")
            raise ForwardError(f"{given}: {where} (a forward model is written by "
                               "`amorphxas train forward -o MODEL_DIR`)")
        header = read_header(js, error=ForwardError)
        check_format(header, js, FORMAT, what="forward model", error=ForwardError)
        arrays = read_arrays(npz, error=ForwardError)
        ridge = RidgeSpectrum.from_arrays(
            {k[len("ridge_"):]: v for k, v in arrays.items() if k.startswith("ridge_")}, header["ridge"])
        pca = PCAPipeline(header=header["pca"],
                          **{k: arrays[f"pca_{k}"] for k in _PCA_ARRAYS})
        return cls(estimator=ridge, pca=pca, energy=arrays["energy"], scale=float(header["scale"]),
                   header=header)


def _hash_rows(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a)).tobytes() if np.asarray(a).dtype != object
                 else "\n".join(map(str, a)).encode())
    return h.hexdigest()


def fit_model(pool: Pool, train_rows, mode: str = "direct", alpha: float | None = None,
              n_components=None, pca: PCAPipeline | None = None, seed: int = 0,
              cv: int = 5) -> ForwardModel:
    """Fit a ForwardModel on rows ``train_rows`` of ``pool`` (rows must have spectra)."""
    from amorphxas.descriptors import fit_pca

    train_rows = np.asarray(train_rows, dtype=int)
    if not pool.has_spectrum[train_rows].all():
        raise ForwardError("training rows without a spectrum")
    if pca is None:
        pca = fit_pca(pool.X_raw, 0.999, parameters=pool.descriptor)
    Z = pca.transform(pool.X_raw)
    est = RidgeSpectrum(mode=mode, alpha=alpha, n_components=n_components, cv=cv,
                        random_state=seed).fit(Z[train_rows], pool.Y[train_rows])
    domain = domain_statistics(Z)
    from amorphxas import __version__

    header = {"amorphxas_version": __version__, "kind": pool.descriptor.get("kind"),
              "preset": pool.descriptor.get("preset"), "descriptor": pool.descriptor,
              "mode": mode, "alpha": est.alpha_, "n_train": int(train_rows.size),
              "normalisation": pool.normalisation, "dataset": pool.dataset,
              "training_sha256": _hash_rows(pool.cell_id[train_rows], pool.atom_index[train_rows],
                                            pool.Y[train_rows]),
              "domain": domain,
              "uncertainty": "closed-form Bayesian ridge posterior, see amorphxas.forward.ridge"}
    return ForwardModel(estimator=est, pca=pca, energy=np.asarray(pool.energy, float),
                        scale=pool.scale, header=header)


DOMAIN_PCS = 10  # leading descriptor PCs of the domain check: well sampled by the pool


def domain_statistics(Z: np.ndarray) -> dict:
    """Mean, variance and largest Mahalanobis distance of the pool's sites (rows of ``Z``, the
    descriptor-PCA coordinates of every Si of the dataset) in the leading DOMAIN_PCS components.

    A Mahalanobis distance needs a covariance estimated from many more sites than dimensions:
    the pool (hundreds of sites, spectra or not) gives that in 10 PCs, the labelled training
    set (tens of sites against 64-400 PCs) does not, and flagged every new site when it was used.
    """
    k = min(DOMAIN_PCS, Z.shape[1])
    lead = Z[:, :k]
    mean, var = lead.mean(axis=0), lead.var(axis=0)
    var = np.maximum(var, 1e-12 * max(1.0, float(var.max())))
    maha = np.sqrt(np.sum((lead - mean) ** 2 / var, axis=1))
    return {"n_pcs": int(k), "mean": mean.tolist(), "var": var.tolist(),
            "mahalanobis_max": float(maha.max()), "n_reference_sites": int(Z.shape[0]),
            "reference": "every Si site of the dataset (the descriptor-PCA pool)"}


def evaluate_split(pool: Pool, train_rows, test_rows, mode="direct", alpha=None,
                   n_components=None, pca=None, seed=0) -> tuple[ForwardModel, dict]:
    """Fit on ``train_rows``, score on ``test_rows``: model metrics and the valence-mean baseline."""
    model = fit_model(pool, train_rows, mode, alpha, n_components, pca, seed,
                      cv=min(5, len(train_rows)))
    Yp, sd = model.predict(pool.X_raw[test_rows], return_std=True)
    Yt, v = pool.Y[test_rows], pool.valence[test_rows]
    metrics = forward_metrics(Yt, Yp, v, sd)
    base = forward_metrics(Yt, valence_mean_baseline(pool.Y[train_rows], pool.valence[train_rows], v), v)
    metrics.update({"n_train": int(len(train_rows)), "alpha": model.estimator.alpha_,
                    "n_targets": int(model.estimator.coef_.shape[0]),
                    "n_descriptor_pcs": int(model.pca.n_components),
                    "baseline_rmse_total": base["rmse_total"],
                    "baseline_rmse_by_valence": base["rmse_by_valence"],
                    "baseline_rmse_energy": base["rmse_energy"]})
    return model, metrics


def train_forward(dataset=None, kind: str = "soap-gto", mode: str = "direct",
                  alpha: float | None = None, n_components=None, split: str = "random",
                  seed: int = 0, preset: str = "study1", descriptors=None,
                  n_jobs: int = 1) -> tuple[ForwardModel, dict]:
    """Train on the training part of a ``split`` ('random': study 1's valence-stratified test set;
    'cell': whole cells held out) and return (model, metrics). ``metrics`` has ``rmse_total``,
    ``rmse_by_valence`` {"0".."4"}, ``rmse_energy``, ``n_train``, ``n_test``,
    ``baseline_rmse_total`` (valence-mean spectrum), calibration and the settings."""
    pool = load_pool(dataset, kind, preset, descriptors, n_jobs)
    train_rows, test_rows = make_split(pool, split, seed)
    model, metrics = evaluate_split(pool, train_rows, test_rows, mode, alpha, n_components, seed=seed)
    metrics.update({"kind": kind, "preset": preset, "mode": mode, "split": split, "seed": seed,
                    "n_spectra": pool.n_spectra, "n_pool": int(len(pool.cell_id)),
                    "normalisation": pool.normalisation, "dataset": pool.dataset})
    model.header["metrics_split"] = split
    model.header["n_test"] = metrics["n_test"]
    return model, metrics


# ---------------------------------------------------------------------------------------------
# prediction for a new structure
# ---------------------------------------------------------------------------------------------
def predict_structure(model: ForwardModel, structure_file, chunk: int = 1024,
                      return_domain: bool = False):
    """Spectra of every Si site of a structure file (any size), in chunks of ``chunk`` sites.

    Returns (energy (n_energy,), spectra (n_Si, n_energy), std (n_Si, n_energy)) in the model's
    normalisation; with ``return_domain`` also the :meth:`ForwardModel.domain_check` dict plus
    ``atom_index`` of the rows.
    """
    from amorphxas.descriptors import get_descriptor
    from amorphxas.descriptors.base import si_indices
    from amorphxas.descriptors.resources import check_memory
    from amorphxas.structures.io import read_structure

    atoms = read_structure(structure_file)
    descriptor = get_descriptor(model.header["kind"], model.header["preset"])
    if descriptor.parameters() != model.header["descriptor"]:
        raise ForwardError(f"descriptor {model.header['kind']} parameters differ from the model's "
                           "(another amorphxas version?)")
    si = si_indices(atoms)
    # spectra and std (2 x n_Si x n_energy float64), the domain arrays, one descriptor chunk
    n_chunk = min(chunk, si.size)
    check_memory(16.0 * si.size * model.energy.size + 64.0 * si.size
                 + descriptor.estimate_memory(atoms, n_chunk),
                 f"prediction of {si.size} Si sites x {model.energy.size} energies",
                 str(structure_file))
    Y = np.empty((si.size, model.energy.size))
    S = np.empty_like(Y)
    checks = []
    for s in range(0, si.size, chunk):
        X = descriptor.compute(atoms, si[s:s + chunk], source=str(structure_file))
        Y[s:s + chunk], S[s:s + chunk] = model.predict(X, return_std=True)
        if return_domain:
            checks.append(model.domain_check(X))
    if not return_domain:
        return model.energy, Y, S
    domain = {"n_sites": int(si.size), "atom_index": si}
    for name in ("n_outside_leverage", "n_outside_mahalanobis"):
        domain[name] = int(sum(d[name] for d in checks))
    for name in ("leverage", "mahalanobis", "pc"):
        domain[name] = np.concatenate([d[name] for d in checks])
    return model.energy, Y, S, domain


# ---------------------------------------------------------------------------------------------
# active learning for the campaign
# ---------------------------------------------------------------------------------------------
def select_next_sites(model_or_X, pool: Pool, n: int, strategy: str = "ur",
                      alpha: float | None = None, seed: int = 0, out=None) -> list[dict]:
    """The next ``n`` sites to compute: a list of {"cell_id", "atom_index"} (written to ``out`` as
    the JSON that ``amorphxas compute DATASET --sites FILE`` reads).

    ``model_or_X``: a :class:`ForwardModel` (its descriptor PCA and alpha; the training set is
    every pool site that has a spectrum), or an array of the pool's descriptor-PCA features
    (n_pool, k) (then ``alpha`` defaults to 1), or None (PCA fitted on the pool). Candidates are
    the pool sites without a spectrum and valence 0..4. The test-reserved sites
    (:mod:`amorphxas.dataset.testset`) are never in the training set nor picked for it; 20 % of
    the batch are reserved sites drawn at random (listed last).
    """
    from amorphxas.descriptors import fit_pca

    if isinstance(model_or_X, ForwardModel):
        Z = model_or_X.features(pool.X_raw)
        alpha = model_or_X.estimator.alpha_ if alpha is None else alpha
    elif model_or_X is None:
        Z = fit_pca(pool.X_raw, 0.999).transform(pool.X_raw)
    else:
        Z = check_matrix(model_or_X, "pool features", error=ForwardError)
        if Z.shape[0] != len(pool.cell_id):
            raise ForwardError(f"features have {Z.shape[0]} rows, the pool has {len(pool.cell_id)}")
    alpha = 1.0 if alpha is None else float(alpha)
    # over-coordinated sites (valence > 4) are never candidates but count in the summed variance;
    # the test-reserved sites are never trained on nor picked for training (20 % of the batch
    # goes to them at random: the held-out test set)
    reserved = is_test_reserved(pool.cell_id, pool.atom_index)
    idx = select_with_test_reserve(strategy, Z, pool.has_spectrum, n, reserved, alpha,
                                   pool.valence, seed, candidate_mask=pool.valence <= MAX_VALENCE)
    sites = [{"cell_id": str(pool.cell_id[i]), "atom_index": int(pool.atom_index[i])} for i in idx]
    if out is not None:
        write_sites(sites, out)
    return sites


def write_prediction_csv(energy, spectra, std, atom_index, out) -> Path:
    """CSV: ``energy_eV, mean, mean_std, std_mean_site, site_<i>..., std_<i>...``.

    ``mean`` is the average spectrum of all sites; ``mean_std`` its std if site errors were
    independent (sqrt(sum var)/n, a lower bound: errors of one model are correlated across sites);
    ``std_mean_site`` the mean over sites of the per-site std (the upper bound for fully correlated
    errors)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    spectra, std = np.asarray(spectra), np.asarray(std)
    n = spectra.shape[0]
    cols = [np.asarray(energy), spectra.mean(axis=0), np.sqrt(np.sum(std**2, axis=0)) / n,
            std.mean(axis=0)]
    names = ["energy_eV", "mean", "mean_std", "std_mean_site"]
    names += [f"site_{int(i)}" for i in atom_index] + [f"std_{int(i)}" for i in atom_index]
    table = np.column_stack(cols + list(spectra) + list(std))
    np.savetxt(out, table, delimiter=",", header=",".join(names), comments="", fmt="%.7g")
    return out


def predict_to_csv(model, structure_file, out, chunk: int = 1024) -> dict:
    """``amorphxas predict MODEL_DIR FILE.extxyz -o OUT.csv``: writes the CSV, returns the domain
    summary (n_sites, n_outside_leverage, n_outside_mahalanobis) for stderr."""
    if not isinstance(model, ForwardModel):
        model = ForwardModel.load(model)
    energy, Y, S, dom = predict_structure(model, structure_file, chunk, return_domain=True)
    write_prediction_csv(energy, Y, S, dom["atom_index"], out)
    return {k: dom[k] for k in ("n_sites", "n_outside_leverage", "n_outside_mahalanobis")}


def save_training(model: ForwardModel, metrics: dict, model_dir) -> Path:
    """``amorphxas train forward ... -o MODEL_DIR``: MODEL_DIR/model.npz, model.json, metrics.json."""
    model_dir = Path(model_dir)
    model.save(model_dir / "model")
    write_header(model_dir / "metrics.json", metrics)
    return model_dir
