"""Measured Si K-edge spectra in, Si0..Si4+ fractions out (see docs/inverse.md).

Reading (CSV/TSV/whitespace columns, XDI, Athena projects) and normalisation (Larch
``pre_edge``) use xraylarch; the per-valence standards are the dataset's real DFT site spectra;
the linear-combination fit (LCF) reports fractions with uncertainties from the fit covariance and
a bootstrap over the site spectra of each standard.
"""

from amorphxas.measured.io import MeasuredInputError, MeasuredSpectrum, read_measured
from amorphxas.measured.normalise import NORM_PARAMS, Normalised, normalise

__all__ = ["NORM_PARAMS", "MeasuredInputError", "MeasuredSpectrum", "Normalised", "normalise",
           "read_measured"]
