"""Inverse models: Si K-edge XANES -> valence, Bader charge, per-site RDF (study 2).

PyTorch is needed only to train (``pip install 'amorphxas[nn]'``); it is imported lazily, and
saved models predict with numpy alone. See docs/inverse.md. Measured spectra:
:func:`predict_measured` (networks trained on site-spectrum mixtures, :mod:`.mixture_models`).
"""

from amorphxas.inverse.baseline import (
    EdgeBaseline,
    LinearBaseline,
    edge_position,
    heuristic_features,
)
from amorphxas.inverse.mixture_models import MeasuredModels, predict_measured, train_measured
from amorphxas.inverse.nn import (
    SpectrumToCharge,
    SpectrumToRDF,
    SpectrumToValence,
    load_model,
    save_model,
)
from amorphxas.inverse.preprocess import (
    BANDS,
    SUB_WINDOWS,
    InverseInputError,
    ensemble_average,
    preprocess,
    read_spectrum,
    window_mask,
)
from amorphxas.inverse.workflow import (
    MIN_SITES,
    InverseDataError,
    evaluate_averaged,
    evaluate_dataset,
    invert_spectrum,
    load_inverse_data,
    split_indices,
    train_inverse,
    window_analysis,
)

__all__ = [
    "BANDS", "MIN_SITES", "SUB_WINDOWS", "EdgeBaseline", "InverseDataError", "InverseInputError",
    "LinearBaseline", "MeasuredModels", "SpectrumToCharge", "SpectrumToRDF", "SpectrumToValence",
    "edge_position", "ensemble_average", "evaluate_averaged", "evaluate_dataset",
    "heuristic_features", "invert_spectrum", "load_inverse_data", "load_model", "predict_measured",
    "preprocess", "read_spectrum", "save_model", "split_indices", "train_inverse", "train_measured",
    "window_analysis", "window_mask",
]
