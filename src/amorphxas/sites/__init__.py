"""Per-Si-site analysis: valence, [SiSi_nO_m] motif, per-site RDF (study 2), density, composition."""

from amorphxas.sites.analysis import (
    MAX_VALENCE,
    SI_O_CUTOFF,
    SI_SI_CUTOFF,
    SiteAnalysis,
    analyse,
    motif_label,
)
from amorphxas.sites.rdf import (
                                      RDF_POINTS,
                                      RDF_R_MAX,
                                      RDF_SIGMA,
                                      first_minimum,
                                      first_peak,
                                      number_density,
                                      partial_rdf,
                                      rdf_grid,
                                      site_rdfs,
)

__all__ = [
    "MAX_VALENCE", "RDF_POINTS", "RDF_R_MAX", "RDF_SIGMA", "SI_O_CUTOFF", "SI_SI_CUTOFF", "SiteAnalysis",
    "analyse", "first_minimum", "first_peak", "motif_label", "number_density", "partial_rdf",
    "rdf_grid", "site_rdfs",
]
