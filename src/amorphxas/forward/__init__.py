"""Forward learning: Si-site descriptor -> Si K-edge XANES (study 1), with predictive uncertainty
and active learning that chooses the next DFT sites. See docs/forward.md.

* :class:`RidgeSpectrum` - scikit-learn estimator, modes ``direct`` | ``pca`` | ``nmf``,
  ``predict(X, return_std=True)`` from the closed-form Bayesian-ridge posterior.
* :func:`train_forward` -> (:class:`ForwardModel`, metrics); ``ForwardModel.save/load`` (NPZ+JSON).
* :func:`predict_structure` - every Si site of a (large) structure file, chunked, with std.
* :func:`select_next_sites` - uncertainty-reduction / random / stratified batch for the campaign.
"""

from amorphxas.forward.active import (
    STRATEGIES,
    select_indices,
    select_ur,
    total_variance,
    variance_reduction,
    write_sites,
)
from amorphxas.forward.metrics import (
    delta_rmse,
    forward_metrics,
    rmse_energy,
    split_cell,
    split_random,
    valence_mean_baseline,
)
from amorphxas.forward.model import (
    MIN_SITES,
    ForwardModel,
    Pool,
    evaluate_split,
    fit_model,
    load_pool,
    make_split,
    predict_structure,
    predict_to_csv,
    save_training,
    select_next_sites,
    train_forward,
    write_prediction_csv,
)
from amorphxas.forward.ridge import MODES, ForwardError, RidgeSpectrum
from amorphxas.forward.select_compact import select_sites_for_dataset

__all__ = [
    "MIN_SITES", "MODES", "STRATEGIES", "ForwardError", "ForwardModel", "Pool", "RidgeSpectrum",
    "delta_rmse", "evaluate_split", "fit_model", "forward_metrics", "load_pool", "make_split",
    "predict_structure", "predict_to_csv", "rmse_energy", "save_training", "select_indices",
    "select_next_sites", "select_sites_for_dataset", "select_ur", "split_cell", "split_random",
    "total_variance", "train_forward", "valence_mean_baseline", "variance_reduction",
    "write_prediction_csv", "write_sites",
]
