"""Active learning on the default forward model's uncertainty (``amorphxas select``).

The default forward model of ``amorphxas train forward``
(:func:`amorphxas.forward.compact_model.default_estimator`: the mean of kernel ridge on the
physical site features, residual on the valence mean, and kernel ridge on CHGNet + physical
features) is fitted on every computed site outside the test reserve; its members' label-free
posteriors over every Si of the dataset
(:meth:`~amorphxas.forward.compact.CompactSpectrum.posterior_covariance`) drive the greedy
batch of :mod:`amorphxas.forward.active` (:class:`~amorphxas.forward.active.EnsemblePosteriorUR`:
the ensemble's summed predictive variance over the pool and the energies, each site weighted by
its valence's calibrated noise in each member). With fewer than :data:`MIN_TRAIN` computed
training sites (nothing to fit a kernel on) the UR strategies fall back to study 1's descriptor
leverage. :func:`select_sites_for_dataset` is the entry point of ``amorphxas select`` for
either UR model.
"""

from __future__ import annotations

import numpy as np

from amorphxas.forward.model import ForwardModel, load_pool, select_next_sites
from amorphxas.forward.ridge import ForwardError

UR_MODELS = ("compact", "descriptor-ridge")
MIN_TRAIN = 10  # computed training sites below which UR falls back to the descriptor leverage


def select_compact(dataset=None, n: int = 20, strategy: str = "ur", seed: int = 0, out=None,
                   descriptors=None, n_jobs: int = 1) -> tuple[list[dict], dict]:
    """The next ``n`` sites of ``dataset`` ranked by the default model's uncertainty.

    Returns (sites [{"cell_id", "atom_index"}, ...] as :func:`~amorphxas.forward.select_next_sites`,
    info {"ur_model", "n_train", "estimator" (class name), "n_members", "alpha", "gamma" (one
    per member), "pool_variance_before", "..._after" (label-free part, summed over pool and
    energies)}).
    Training set: computed sites (primary or screening fidelity) outside the test reserve, as
    the default model trains; candidates: sites without a spectrum,
    valence 0..4; 20 % of the batch are test-reserved sites at random (listed last)."""
    from amorphxas.dataset.testset import is_test_reserved
    from amorphxas.forward.active import (
        STRATEGIES,
        posterior_engine,
        select_with_test_reserve,
        write_sites,
    )
    from amorphxas.forward.compact_model import (
        DEFAULT_ENSEMBLE,
        DEFAULT_KINDS,
        TRAINING_FIDELITY,
        fit_default_estimator,
        pool_features,
    )
    from amorphxas.sites.analysis import MAX_VALENCE

    if strategy not in STRATEGIES:
        raise ForwardError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    # every computed site (the dataset's protocol or its screening rows) is trained on, never re-picked
    # (random / stratified fit nothing: the physical block alone gives the pool, no CHGNet)
    kinds = DEFAULT_ENSEMBLE["kinds"] if strategy.startswith("ur") else DEFAULT_KINDS
    X, pool, params = pool_features(dataset, kinds, descriptors, n_jobs, TRAINING_FIDELITY)
    reserved = is_test_reserved(pool.cell_id, pool.atom_index)
    train = pool.has_spectrum & ~reserved
    info = {"ur_model": "compact", "n_train": int(train.sum())}
    engine = None
    if strategy.startswith("ur"):
        if train.sum() < MIN_TRAIN or np.unique(pool.cell_id[train]).size < 2:
            from amorphxas.forward.model import select_next_sites

            info["ur_model"] = f"descriptor-ridge (fewer than {MIN_TRAIN} computed training sites)"
            return select_next_sites(None, pool, n, strategy, seed=seed, out=out), info
        est = fit_default_estimator(X, pool.Y, pool.cell_id, np.flatnonzero(train), params, seed)
        engine = posterior_engine(est, X)
        info.update(estimator=type(est).__name__, n_members=len(est.members_),
                    alpha=[float(m.alpha_) for m in est.members_],
                    gamma=[float(m.gamma_) for m in est.members_],
                    pool_variance_before=float(engine.variance().sum()))
    idx = select_with_test_reserve(strategy, None, pool.has_spectrum, n, reserved,
                                   valence=pool.valence, seed=seed,
                                   candidate_mask=pool.valence <= MAX_VALENCE, engine=engine)
    if engine is not None:
        info["pool_variance_after"] = float(engine.variance().sum())
    sites = [{"cell_id": str(pool.cell_id[i]), "atom_index": int(pool.atom_index[i])} for i in idx]
    if out is not None:
        write_sites(sites, out)
    return sites, info


def select_sites_for_dataset(dataset=None, n: int = 20, strategy: str = "ur", kind: str = "soap-gto",
                             preset: str = "study1", model=None, seed: int = 0, out=None,
                             descriptors=None, n_jobs: int = 1,
                             ur_model: str = "compact") -> list[dict]:
    """``amorphxas select``: pool = every Si site of ``dataset``. ``ur_model="compact"`` (default):
    UR on the default forward model's posterior, fitted on the computed sites
    (:func:`select_compact`); ``"descriptor-ridge"`` or a
    ``model`` (a ForwardModel or a model directory/stem, fixing kind, preset, descriptor PCA and
    alpha): study 1's leverage on ``kind`` descriptors (PCA fitted on the pool, alpha = 1, without
    a model). Writes ``out`` (JSON for ``amorphxas compute --sites``)."""
    if ur_model not in UR_MODELS:
        raise ForwardError(f"unknown UR model {ur_model!r}: use one of {', '.join(UR_MODELS)}")
    if ur_model == "compact" and model is None:
        return select_compact(dataset, n, strategy, seed, out, descriptors, n_jobs)[0]
    if model is not None and not isinstance(model, ForwardModel):
        model = ForwardModel.load(model)
    if model is not None:
        kind, preset = model.header["kind"], model.header["preset"]
    # every computed site counts as computed, whatever its fidelity: none is picked again
    pool = load_pool(dataset, kind, preset, descriptors, n_jobs,
                     energy=None if model is None else model.energy, fidelity="primary+screening")
    return select_next_sites(model, pool, n, strategy, seed=seed, out=out)
